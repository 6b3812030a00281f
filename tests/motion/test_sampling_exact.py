"""Point sampling at its edges: the documented draw reproduced step by step, the exact nearest
inside pixel for snapped centres (brute force), the K boundaries, the refusals' words."""
import cv2
import numpy as np
import pytest

from server.motion import MotionInputError, points_per_component, sample_points, snap_inside
from server.motion.sampling import check_mask


def refusal(call, *args, **kwargs) -> str:
    with pytest.raises(MotionInputError) as info:
        call(*args, **kwargs)
    return str(info.value)


def c_shape():
    mask = np.zeros((40, 50), dtype=bool)
    mask[4:36, 4:12] = True
    mask[4:12, 4:46] = True
    mask[28:36, 4:46] = True
    return mask


def documented_draw(mask, k, seed):
    """sample_points' docstring, step by step: 3K distinct pixels from default_rng(seed), then
    k-means++ (OpenCV's RNG seeded by the generator's next integer below 2**31 - 1), 100
    iterations or a 1e-3 shift, one attempt; centres snapped inside; sorted by (y, x)."""
    rows, cols = np.nonzero(mask)
    pixels = np.stack([cols, rows], axis=1).astype(np.float32)
    rng = np.random.default_rng(seed)
    candidates = pixels[rng.choice(len(pixels), size=min(3 * k, len(pixels)), replace=False)]
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 1e-3)
    _, _, centres = cv2.kmeans(candidates, k, None, criteria, 1, cv2.KMEANS_PP_CENTERS)
    centres = snap_inside(centres, mask)
    return centres[np.lexsort((centres[:, 0], centres[:, 1]))]


@pytest.mark.parametrize("k, seed", [(16, 0), (5, 123), (40, 7)])
def test_sample_points_is_the_documented_draw(k, seed):
    mask = c_shape()
    got = sample_points(mask, k, seed)
    assert got.dtype == np.float32 and got.flags.c_contiguous and got.shape == (k, 2)
    np.testing.assert_array_equal(got, documented_draw(mask, k, seed))


def test_few_candidates_are_all_taken_when_3k_exceeds_the_mask():
    mask = np.zeros((10, 10), bool)
    mask[2:4, 2:7] = True                       # 10 pixels, k = 4: 10 candidates, not 12
    got = sample_points(mask, 4, 1)
    rows, cols = np.nonzero(mask)
    pixels = np.stack([cols, rows], axis=1).astype(np.float32)
    rng = np.random.default_rng(1)
    candidates = pixels[rng.choice(10, size=10, replace=False)]
    cv2.setRNGSeed(int(rng.integers(0, 2**31 - 1)))
    _, _, centres = cv2.kmeans(candidates, 4, None, (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 100, 1e-3),
                               1, cv2.KMEANS_PP_CENTERS)
    want = snap_inside(centres, mask)
    np.testing.assert_array_equal(got, want[np.lexsort((want[:, 0], want[:, 1]))])


def test_a_mask_of_exactly_k_pixels_gives_them_sorted_by_row_then_column():
    mask = np.zeros((6, 6), bool)
    for y, x in [(4, 1), (0, 5), (4, 0), (0, 2), (2, 3)]:
        mask[y, x] = True
    got = sample_points(mask, 5, 9)
    assert got.tolist() == [[2, 0], [5, 0], [3, 2], [0, 4], [1, 4]]
    assert got.dtype == np.float32
    assert len(sample_points(mask, 4, 9)) == 4                    # one more pixel than k: K-means


def test_points_are_sorted_by_row_then_column():
    pts = sample_points(c_shape(), 24, 5)
    keys = [(y, x) for x, y in pts.tolist()]
    assert keys == sorted(keys)


def test_snap_inside_lands_on_a_nearest_inside_pixel_brute_force():
    mask = c_shape()
    inside = np.argwhere(mask)[:, ::-1].astype(np.float64)       # (x, y)
    rng = np.random.default_rng(0)
    points = rng.uniform([-3, -3], [52, 42], size=(300, 2)).astype(np.float32)
    snapped = snap_inside(points, mask)
    assert snapped.dtype == np.float32 and snapped.shape == points.shape
    cols = np.clip(np.floor(points[:, 0] + 0.5).astype(int), 0, 49)
    rows = np.clip(np.floor(points[:, 1] + 0.5).astype(int), 0, 39)
    was_inside = mask[rows, cols]
    assert was_inside.any() and (~was_inside).any()
    np.testing.assert_array_equal(snapped[was_inside], points[was_inside])        # untouched
    for p, (c, r), s in zip(points[~was_inside], zip(cols[~was_inside], rows[~was_inside]), snapped[~was_inside]):
        assert mask[int(s[1]), int(s[0])] and s[0] == int(s[0]) and s[1] == int(s[1])
        best = np.hypot(inside[:, 0] - c, inside[:, 1] - r).min()          # from the point's pixel
        assert np.hypot(s[0] - c, s[1] - r) == pytest.approx(best, abs=1e-9), (p, s)


def test_snap_rounds_half_up_and_clips_to_the_frame():
    mask = np.zeros((4, 5), bool)
    mask[1, 1] = True
    mask[3, 4] = True
    pts = np.array([[0.5, 0.5], [1.49, 1.49], [0.49, 0.5], [40.0, 30.0], [-9.0, -9.0], [3.6, 0.2]])
    got = snap_inside(pts, mask)
    assert got[0].tolist() == [0.5, 0.5]                    # rounds to pixel (1, 1): inside, kept
    assert got[1].tolist() == pts[1].astype(np.float32).tolist()
    assert got[2].tolist() == [1.0, 1.0]                    # pixel (0, 1) is outside: nearest is (1, 1)
    assert got[3].tolist() == [40.0, 30.0]                  # clipped to (4, 3), which is inside: kept
    assert got[4].tolist() == [1.0, 1.0]                    # clipped to (0, 0): nearest is (1, 1)
    assert got[5].tolist() == [4.0, 3.0]                    # pixel (4, 0): (4, 3) is 3 away, (1, 1) sqrt 10


def test_snap_of_points_all_inside_returns_them_as_float32():
    mask = np.ones((3, 3), bool)
    got = snap_inside([[1, 1], [2, 0]], mask)
    assert got.dtype == np.float32 and got.tolist() == [[1.0, 1.0], [2.0, 0.0]]


def test_check_mask_shapes_and_words():
    assert refusal(check_mask, np.ones(5, bool), "tracks[0].mask") == \
        "tracks[0].mask: expected a 2-D (height, width) mask, got shape (5,)"
    assert refusal(check_mask, np.ones((0, 5), bool)) == "mask: expected a 2-D (height, width) mask, got shape (0, 5)"
    assert refusal(check_mask, np.ones((5, 0), bool)) == "mask: expected a 2-D (height, width) mask, got shape (5, 0)"
    assert refusal(check_mask, np.zeros((2, 2)), "m") == "m: mask is empty: paint at least one pixel"
    one = check_mask(np.array([[3]], np.uint8))
    assert one.dtype == bool and one.tolist() == [[True]]


@pytest.mark.parametrize("k", [0, -3, 1.5, "x", float("nan"), True])
def test_bad_k_words(k):
    assert refusal(sample_points, c_shape(), k, 0, field="tracks[1].mask") == \
        f"tracks[1].mask.k: expected a positive integer point count, got {k!r}"


def test_whole_number_k_of_other_types_is_accepted():
    assert len(sample_points(c_shape(), 3.0, 0)) == 3 and len(sample_points(c_shape(), np.int64(1), 0)) == 1
    np.testing.assert_array_equal(sample_points(c_shape(), 3.0, 4), sample_points(c_shape(), 3, 4))


def test_eq10_refusal_names_area_share():
    assert refusal(points_per_component, 1.5).startswith("area_share: ")
    assert "1.5" in refusal(points_per_component, 1.5)


def test_k_none_takes_eq10_of_the_masks_share():
    mask = c_shape()
    np.testing.assert_array_equal(sample_points(mask, None, 3), sample_points(mask, points_per_component(mask.mean()), 3))


def test_points_above_the_first_row_or_left_of_the_first_column_are_read_there():
    mask = np.zeros((3, 3), bool)
    mask[0, 2] = mask[2, 0] = True
    got = snap_inside(np.array([[2.3, -0.7], [-0.7, 2.3], [0.2, 0.1]]), mask)
    np.testing.assert_allclose(got[:2], [[2.3, -0.7], [-0.7, 2.3]], rtol=1e-6)     # clipped pixel inside: kept
    assert got[2].tolist() in ([2.0, 0.0], [0.0, 2.0])
