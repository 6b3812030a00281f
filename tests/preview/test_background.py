"""The preview's background: still by default, a pull that never folds, real fills, one owner per
pixel, no mirrored copies at the frame edge, and the moved-region masks the dual-clock uses."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

import server.backends.preview_render as render_module
from server.backends.preview import preview_renderer, render_preview
from server.backends.preview_render import background_plate, owned_masks
from tests.preview.conftest import disc_mask, photo
from tests.preview.jobs import varied_jobs
from tests.preview.measures import background_changed_share, fill_detail_share


def test_background_is_bit_exact_still_by_default_on_varied_photo_jobs():
    counted = 0
    for job in varied_jobs()[:12]:
        video = render_preview(job["reference"], job["masks"], job["arrows"], job["easings"], job["frames"],
                               job["tau"], seed=0)
        share, pixels = background_changed_share(job["reference"], video, job["masks"], job["arrows"],
                                                 job["easings"])
        assert share == 0.0, job["name"] if "name" in job else job["tau"]
        counted += pixels
    assert counted > 1_000_000


def test_following_background_changes_it():
    job = varied_jobs()[0]
    video = render_preview(job["reference"], job["masks"], job["arrows"], job["easings"], job["frames"], 0.0,
                           seed=0, follow=1.0)
    share, _ = background_changed_share(job["reference"], video, job["masks"], job["arrows"], job["easings"])
    assert share > 0.05


def jacobian_determinant(sampling: np.ndarray) -> np.ndarray:
    """det of d(map)/d(x, y) by central differences: > 0 means the map never folds."""
    dmx_dy, dmx_dx = np.gradient(sampling[..., 0].astype(np.float64))
    dmy_dy, dmy_dx = np.gradient(sampling[..., 1].astype(np.float64))
    return dmx_dx * dmy_dy - dmx_dy * dmy_dx


def long_arrow_job():
    """Arrows of 40-60% of the short side next to each other: the old pull folded here."""
    h, w = 320, 512
    ref = photo("astronaut", w, h)
    masks = [disc_mask(h, w, (150, 160), 40), disc_mask(h, w, (330, 150), 30)]
    arrows = [[(150, 160), (340, 250)], [(330, 150), (200, 40)]]
    return ref, masks, arrows


@pytest.mark.parametrize("tau", [0.0, -1.0, -10.0, -100.0, -1000.0, -1e4])
def test_the_background_pull_never_folds(tau):
    ref, masks, arrows = long_arrow_job()
    renderer = preview_renderer(ref, masks, arrows, "linear", 9, tau, follow=1.0)
    for i in range(9):
        sampling = renderer.background_map(i)
        if sampling is not None:
            assert jacobian_determinant(sampling).min() > 0.0, (tau, i)


def test_without_the_fold_guard_this_job_folds(monkeypatch):
    """The job above is one that folds when the pull is not kept below the margin (checks the test)."""
    ref, masks, arrows = long_arrow_job()
    monkeypatch.setattr(render_module, "FOLD_MARGIN", 1e9)
    renderer = preview_renderer(ref, masks, arrows, "linear", 9, 0.0, follow=1.0)
    renderer._sigma = render_module.INFLUENCE_SHARE * 320
    assert jacobian_determinant(renderer.background_map(8)).min() <= 0.0


def test_background_pull_falls_off_smoothly_with_distance():
    ref, masks, arrows = long_arrow_job()
    renderer = preview_renderer(ref, masks[:1], arrows[:1], "linear", 5, 0.0, follow=1.0)
    field = np.hypot(*np.moveaxis(renderer.background_field(4), -1, 0))
    row = field[160 // 8, 150 // 8 + 8:]                         # rightwards from the disc's edge
    assert np.all(np.diff(row) <= 1e-6) and row[0] > row[-1]


def test_holes_are_filled_with_the_surroundings_detail():
    ref = photo("grass", 384, 256)
    holes = disc_mask(256, 384, (190, 128), 50)
    plate = background_plate(ref, holes)
    telea_only = ref.copy()
    telea_only[holes] = cv2.inpaint(ref, holes.astype(np.uint8), 3, cv2.INPAINT_TELEA)[holes]
    ours, theirs = fill_detail_share(plate, holes), fill_detail_share(telea_only, holes)
    assert ours >= 0.6 and ours > theirs + 0.2, (ours, theirs)
    np.testing.assert_array_equal(plate[~holes], ref[~holes])


def test_overlapping_masks_one_owner_per_pixel_the_later_track():
    a = np.zeros((10, 10), bool)
    a[0:6, 0:6] = True
    b = np.zeros((10, 10), bool)
    b[3:9, 3:9] = True
    first, second = owned_masks([a, b])
    assert not (first & second).any() and np.array_equal(first | second, a | b)
    assert np.array_equal(second, b)                            # the later track keeps the overlap


def test_overlapping_regions_carry_no_duplicated_content():
    h, w = 200, 300
    ref = np.full((h, w, 3), 128, np.uint8)
    big = disc_mask(h, w, (100, 100), 50)
    small = disc_mask(h, w, (100, 100), 15)
    ref[big] = (200, 200, 40)
    ref[small] = (0, 0, 250)                                    # a blue patch inside the big region
    frames = render_preview(ref, [big, small], [[(100, 100), (200, 100)], [(100, 100), (100, 40)]],
                            "linear", 5, 0.0)
    blue = lambda f: int(((f[..., 2] > 200) & (f[..., 0] < 60)).sum())      # noqa: E731
    assert abs(blue(frames[-1]) - blue(ref)) <= 0.1 * blue(ref)   # once, where its own arrow took it
    assert blue(frames[-1][:, 170:]) == 0                       # not dragged along by the big region


def test_a_mask_at_the_frame_edge_drags_no_mirrored_copy():
    h, w = 200, 300
    ref = np.full((h, w, 3), 128, np.uint8)
    mask = np.zeros((h, w), bool)
    mask[140:, 100:200] = True                                   # touches the bottom edge
    ref[mask] = (40, 160, 40)
    ref[170:180, 100:200] = (250, 0, 0)                          # a red stripe 20 px above the edge
    last = render_preview(ref, [mask], [[(150, 170), (150, 110)]], "linear", 4, 0.0)[-1]
    red_rows = np.flatnonzero(((last[..., 0] > 200) & (last[..., 1] < 60)).any(axis=1))
    assert red_rows.min() >= 108 and red_rows.max() <= 121      # the stripe, moved up 60 px, once
    below = last[125:, 110:190]
    assert not ((below[..., 0] > 200) & (below[..., 1] < 60)).any()   # a mirror would put it at ~120+


def test_region_masks_follow_the_moved_regions():
    h, w = 256, 384
    ref = photo("coffee", w, h)
    mask = disc_mask(h, w, (120, 120), 40)
    renderer = preview_renderer(ref, [mask], [[(120, 120), (220, 160)]], "linear", 5)
    for i, (dx, dy) in enumerate([(0, 0), (25, 10), (50, 20), (75, 30), (100, 40)]):
        expected = disc_mask(h, w, (120 + dx, 120 + dy), 43)   # the rim and half the feather belong to the region
        got = renderer.region_mask(i)
        assert (got & expected).sum() / (got | expected).sum() >= 0.9
        np.testing.assert_array_equal(renderer.frame_and_mask(i)[0], renderer.frame(i))
