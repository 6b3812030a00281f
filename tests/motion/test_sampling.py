import threading

import numpy as np
import pytest

from server.motion import MotionInputError, points_per_component, sample_points, snap_inside


@pytest.mark.parametrize("p, k", [
    (0.0, 16), (0.05, 16), (0.0999, 16), (0.1, 16), (0.25, 40), (0.4, 64), (0.4001, 64), (0.9, 64), (1.0, 64),
    (0.2, 32),                                   # 16 + 160 * 0.1
    (0.103125, 17),                              # 16.5 rounds half up
    (0.10625, 17),                               # 17.0
])
def test_eq10_k_at_and_between_boundaries(p, k):
    assert points_per_component(p) == k


def test_eq10_is_monotone():
    ks = [points_per_component(p) for p in np.linspace(0, 1, 1001)]
    assert all(a <= b for a, b in zip(ks, ks[1:]))
    assert ks[0] == 16 and ks[-1] == 64


@pytest.mark.parametrize("bad", [-0.1, 1.5, float("nan")])
def test_eq10_rejects_non_fraction(bad):
    with pytest.raises(MotionInputError, match="area_share"):
        points_per_component(bad)


def _inside(mask, pts):
    cols = np.floor(pts[:, 0] + 0.5).astype(int)
    rows = np.floor(pts[:, 1] + 0.5).astype(int)
    return mask[rows, cols]


@pytest.mark.parametrize("seed", range(8))
def test_every_point_inside_non_convex_mask(c_mask, seed):
    pts = sample_points(c_mask, 16, seed)
    assert pts.shape == (16, 2) and pts.dtype == np.float32
    assert _inside(c_mask, pts).all()


def test_snap_moves_outside_points_to_nearest_inside_pixel(c_mask):
    # (100, 60) is in the C's gap: nearest mask pixel is on the bottom bar's top edge, row 84->85
    snapped = snap_inside(np.array([[100.0, 60.0], [20.0, 20.0]]), c_mask)
    assert tuple(snapped[1]) == (20.0, 20.0)                       # already inside: untouched
    assert _inside(c_mask, snapped).all()
    # nearest inside pixel: rows 34 (top bar) and 85 (bottom bar) are 26 and 25 away -> bottom
    assert tuple(snapped[0]) == (100.0, 85.0)


def test_kmeans_centres_are_snapped_on_a_ring():
    yy, xx = np.mgrid[0:200, 0:200]
    r = np.hypot(xx - 100, yy - 100)
    ring = (r > 70) & (r < 80)
    for seed in range(4):
        pts = sample_points(ring, 16, seed)
        assert _inside(ring, pts).all()


def test_same_seed_same_points_other_seed_other_points(box_mask):
    a = sample_points(box_mask, 16, 7)
    b = sample_points(box_mask, 16, 7)
    c = sample_points(box_mask, 16, 8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_same_points_from_other_threads(box_mask):
    expected = sample_points(box_mask, 24, 3)
    results = []
    threads = [threading.Thread(target=lambda: results.append(sample_points(box_mask, 24, 3))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in results:
        np.testing.assert_array_equal(r, expected)


def test_k_none_uses_eq10(box_mask):
    assert len(sample_points(box_mask, None, 0)) == points_per_component(box_mask.mean())


def test_small_mask_gives_its_own_pixels():
    mask = np.zeros((10, 10), dtype=bool)
    mask[2, 3] = mask[7, 1] = mask[5, 5] = True
    pts = sample_points(mask, 16, 0)
    assert sorted(map(tuple, pts.tolist())) == sorted([(3.0, 2.0), (1.0, 7.0), (5.0, 5.0)])


def test_points_spread_over_the_mask(box_mask):
    pts = sample_points(box_mask, 16, 0)
    assert len(np.unique(pts, axis=0)) == 16
    assert pts[:, 0].min() < 45 and pts[:, 0].max() > 65


def test_empty_mask_error_names_the_track():
    with pytest.raises(MotionInputError, match=r"tracks\[2\]\.mask.*empty") as info:
        sample_points(np.zeros((8, 8), bool), 16, 0, field="tracks[2].mask")
    assert info.value.field == "tracks[2].mask"


def test_bad_mask_shape_and_k(box_mask):
    with pytest.raises(MotionInputError, match="2-D"):
        sample_points(np.ones((4, 4, 3), bool), 4, 0)
    with pytest.raises(MotionInputError, match="mask.k"):
        sample_points(box_mask, 0, 0)


@pytest.mark.parametrize("k", ["x", float("nan"), float("inf"), 2.5, True])
def test_bad_k_is_an_error_naming_the_field(box_mask, k):
    with pytest.raises(MotionInputError, match=r"tracks\[1\]\.mask\.k: expected a positive integer"):
        sample_points(box_mask, k, 0, field="tracks[1].mask")


def _coverage(mask, pts):
    """(farthest, mean) distance from a mask pixel to its nearest point, and the closest pair,
    all in units of the ideal spacing sqrt(area / K)."""
    rows, cols = np.nonzero(mask)
    spacing = np.sqrt(mask.sum() / len(pts))
    to_points = np.hypot(cols[:, None] - pts[None, :, 0], rows[:, None] - pts[None, :, 1]).min(axis=1)
    pair = np.hypot(pts[:, None, 0] - pts[None, :, 0], pts[:, None, 1] - pts[None, :, 1])
    np.fill_diagonal(pair, np.inf)
    return to_points.max() / spacing, to_points.mean() / spacing, pair.min() / spacing


def _rect_and_disc():
    rect = np.zeros((120, 240), bool)
    rect[10:110, 20:220] = True
    yy, xx = np.mgrid[0:120, 0:240]
    return {"rect": rect, "disc": np.hypot(xx - 120, yy - 60) < 55}


@pytest.mark.parametrize("shape", ["rect", "disc"])
@pytest.mark.parametrize("k", [16, 64])
def test_points_cover_the_mask_evenly(shape, k):
    # K-means spreads the points: no pixel is far from a point, none are bunched together.
    # (K random pixels instead reach about 2.5 spacings and pairs a tenth of a spacing apart.)
    mask = _rect_and_disc()[shape]
    for seed in range(4):
        farthest, mean, closest = _coverage(mask, sample_points(mask, k, seed))
        assert farthest < 2.0, (seed, farthest)
        assert mean < 0.75, (seed, mean)
        assert closest > 0.2, (seed, closest)


def test_points_share_out_between_the_halves_of_a_mask():
    mask = _rect_and_disc()["rect"]
    pts = sample_points(mask, 16, 3)
    left = int((pts[:, 0] < 120).sum())
    top = int((pts[:, 1] < 60).sum())
    assert 6 <= left <= 10 and 6 <= top <= 10, (left, top)
