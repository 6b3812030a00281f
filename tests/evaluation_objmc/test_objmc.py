import numpy as np
import pytest

from server.evaluation.objmc import (ObjMCResult, anchor_from_mask, objmc_errors, objmc_for_video,
                                     objmc_over_videos, track_anchor)


def test_identical_tracks_score_zero():
    t = np.random.default_rng(0).uniform(0, 100, size=(3, 14, 2))
    assert objmc_errors(t, t).max() == 0.0


def test_known_offset_scores_its_length():
    t = np.random.default_rng(1).uniform(0, 100, size=(2, 9, 2))
    np.testing.assert_allclose(objmc_errors(t + (3.0, 4.0), t), 5.0)


def test_anchor_is_the_centre_of_the_largest_inscribed_circle():
    mask = np.zeros((100, 200), bool)
    mask[20:61, 30:171] = True                 # 41 rows: centre row 40
    mask[0:100, 0:10] = True                   # a thin strip must not win
    x, y = anchor_from_mask(mask)
    assert y == 40 and 50 <= x <= 150
    # the image edge counts as border: a mask touching it has its anchor pulled inside
    full = np.ones((50, 80), bool)
    np.testing.assert_array_equal(anchor_from_mask(full), (24, 24))    # ties: first in raster order
    c = np.zeros((120, 160), bool)
    c[10:110, 10:40] = True
    c[10:35, 10:150] = True
    c[85:110, 10:150] = True
    ax, ay = anchor_from_mask(c).astype(int)
    assert c[ay, ax]
    with pytest.raises(ValueError, match="mask"):
        anchor_from_mask(np.zeros((5, 5), bool))


def test_tracking_follows_a_known_translation(shifting_video):
    frames, shifts = shifting_video
    anchor = np.array([100.0, 70.0])
    tracked = track_anchor(frames, anchor)
    np.testing.assert_allclose(tracked, anchor + shifts, atol=0.1)


def test_objmc_of_a_video_with_the_right_and_an_offset_target(shifting_video):
    frames, shifts = shifting_video
    masks = [np.zeros((160, 240), bool), np.zeros((160, 240), bool)]
    masks[0][40:100, 60:120] = True
    masks[1][90:140, 150:200] = True
    good = objmc_for_video(frames, masks, displacements=[shifts, shifts])
    assert isinstance(good, ObjMCResult) and good.errors.shape == (2, len(frames))
    assert good.value < 0.1
    anchors = good.anchors
    off = objmc_for_video(frames, masks, targets=[anchors[j] + shifts + (3.0, 4.0) for j in range(2)])
    assert off.value == pytest.approx(5.0, abs=0.1)
    wrong = objmc_for_video(frames, masks, displacements=[np.zeros_like(shifts)] * 2)
    assert wrong.value == pytest.approx(np.hypot(*shifts.T).mean(), abs=0.1)


def test_mean_over_videos_weighs_every_track_and_frame():
    def result(errors):
        e = np.asarray(errors, float)
        z = np.zeros(e.shape + (2,))
        return ObjMCResult(np.zeros((e.shape[0], 2)), z, z, e)
    a = result([[1.0, 1.0, 1.0, 1.0]])             # 4 entries of 1
    b = result([[4.0, 4.0], [4.0, 4.0], [4.0, 4.0], [4.0, 4.0]])   # 8 entries of 4
    assert objmc_over_videos([a, b]) == pytest.approx((4 * 1 + 8 * 4) / 12)
    with pytest.raises(ValueError):
        objmc_over_videos([])


def test_bad_arguments(shifting_video):
    frames, shifts = shifting_video
    mask = np.zeros((160, 240), bool)
    mask[40:100, 60:120] = True
    with pytest.raises(ValueError, match="exactly one"):
        objmc_for_video(frames, [mask])
    with pytest.raises(ValueError, match=r"displacements\[0\]: expected shape"):
        objmc_for_video(frames, [mask], displacements=[shifts[:3]])
    with pytest.raises(ValueError, match=r"targets\[1\]: expected shape"):
        objmc_for_video(frames, [mask, mask], targets=[shifts, shifts[:, :1]])
    with pytest.raises(ValueError, match="displacements: expected one per mask"):
        objmc_for_video(frames, [mask, mask], displacements=[shifts])
    with pytest.raises(ValueError, match="at least one frame and one mask"):
        objmc_for_video(frames, [], displacements=[])
    with pytest.raises(ValueError, match="at least one frame and one mask"):
        objmc_for_video([], [mask], displacements=[shifts[:0]])
    with pytest.raises(ValueError, match=r"masks\[0\].*size"):
        objmc_for_video(frames, [mask[:100]], displacements=[shifts])
    with pytest.raises(ValueError, match="uint8"):
        track_anchor([f.astype(np.float32) for f in frames], (10, 10))
    with pytest.raises(ValueError, match="shapes"):
        objmc_errors(np.zeros((1, 3, 2)), np.zeros((1, 4, 2)))


def test_anchor_stays_inside_the_frame_when_the_object_leaves_it():
    """An object running out of a 64-px frame: the tracker once reported x = -181."""
    rng = np.random.default_rng(3)
    texture = rng.integers(0, 255, size=(16, 16, 3), dtype=np.uint8)
    background = np.full((64, 64, 3), 90, np.uint8)
    frames = []
    for i in range(10):
        frame = background.copy()
        x = 20 - 12 * i
        x0, x1 = max(x, 0), min(x + 16, 64)
        if x1 > x0:
            frame[24:40, x0:x1] = texture[:, x0 - x:x1 - x]
        frames.append(frame)
    mask = np.zeros((64, 64), bool)
    mask[24:40, 20:36] = True
    result = objmc_for_video(frames, [mask], displacements=[np.stack([[-12.0 * i, 0.0] for i in range(10)])])
    tracked = result.tracked[0]
    assert np.all(tracked >= 0) and np.all(tracked[:, 0] <= 63) and np.all(tracked[:, 1] <= 63)
    assert tracked[2, 0] < 10                                # it did follow the object to the edge
