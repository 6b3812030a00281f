"""Blender-free helpers behind the panel: one job progress, plate/take review images, timing curves."""
from __future__ import annotations

import math

import numpy as np
import pytest

from blender_addon.io import review, timing
from blender_addon.io.progress import DENOISING_END, PREPARING_END, JobProgress


# ---- progress -------------------------------------------------------------------------------------

def test_progress_starts_submitted_and_queues_with_its_position():
    p = JobProgress()
    assert (p.phase, p.value, p.text, p.denoises) == (0, 0.0, "Submitted", False)
    assert p.queued(3.7) is True
    assert p.text == "Queued (position 3)" and p.value == 0.0 and p.phase == 1


def test_each_stage_has_its_share_of_the_bar_and_its_words():
    p = JobProgress()
    assert p.stage("loading", 0, 0) and p.text == "Loading the model" and p.value == 0.0
    assert p.stage("preparing", 1, 2) and p.text == "Preparing" and p.value == pytest.approx(PREPARING_END / 2)
    assert p.stage("denoising", 5, 10, eta_s=12.4)
    assert p.text == "Denoising 5/10 · ETA 12 s" and p.denoises
    assert p.value == pytest.approx(PREPARING_END + (DENOISING_END - PREPARING_END) * 0.5)
    assert p.stage("denoising", 6, 10, eta_s=None) and p.text == "Denoising 6/10"
    assert p.stage("denoising", 7, 10, eta_s=3) and p.text == "Denoising 7/10 · ETA 3 s"
    assert p.stage("decoding", 1, 4) is False and p.text == "Denoising 7/10 · ETA 3 s"
    assert p.frames(2, 4) and p.text == "Frames 2/4"
    assert p.value == pytest.approx(DENOISING_END + (1 - DENOISING_END) * 0.5)
    assert p.frames(4, 4) and p.value == 1.0
    assert (PREPARING_END, DENOISING_END) == (0.05, 0.5)


def test_without_denoising_frames_fill_from_the_end_of_preparing():
    p = JobProgress()
    p.stage("preparing", 1, 1)
    assert p.value == pytest.approx(PREPARING_END)
    p.frames(1, 4)
    assert p.value == pytest.approx(PREPARING_END + (1 - PREPARING_END) / 4)
    q = JobProgress()
    q.frames(0, 0)                         # no frames announced: no division by zero
    assert q.value == pytest.approx(PREPARING_END) and q.text == "Frames 0/0"
    one = JobProgress()
    one.frames(1, 1)
    assert one.value == 1.0
    r = JobProgress()
    r.stage("preparing", 3, 0)             # an unknown total counts as nothing done
    assert r.value == 0.0


def test_a_late_earlier_stage_changes_nothing_and_the_bar_never_goes_back():
    p = JobProgress()
    p.stage("denoising", 8, 10)
    value = p.value
    assert p.stage("preparing", 1, 1) is False and p.queued(1) is False
    assert p.text == "Denoising 8/10" and p.value == value
    assert p.stage("denoising", 2, 10) is True         # the same phase: words follow, the bar holds
    assert p.text == "Denoising 2/10" and p.value == value
    p.stage("denoising", 20, 10)                       # over the top: capped at the stage's end... and 1
    assert p.value <= 1.0


def test_values_are_clamped_to_the_bar():
    p = JobProgress()
    assert p._set("frames", 7.0, "x") and p.value == 1.0
    q = JobProgress()
    assert q._set("queued", -3.0, "y") and q.value == 0.0


# ---- review ----------------------------------------------------------------------------------------

def test_fit_is_a_nearest_neighbour_resize_by_pixel_centres():
    img = np.arange(4 * 6).reshape(4, 6, 1)
    assert review.fit(img, 3, 2)[..., 0].tolist() == [[7, 9, 11], [19, 21, 23]]
    assert review.fit(img, 12, 8).shape == (8, 12, 1)
    up = review.fit(img, 12, 8)[..., 0]
    assert up[0].tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5] and up[:, 0].tolist() == [0, 0, 6, 6, 12, 12, 18, 18]
    assert review.fit(img, 6, 4)[..., 0].tolist() == img[..., 0].tolist()
    odd = review.fit(np.arange(3).reshape(1, 3, 1), 2, 1)[..., 0]     # centres 0.75, 2.25 → 0, 2
    assert odd.tolist() == [[0, 2]]


def test_onion_mixes_by_opacity_on_the_takes_size():
    plate = np.full((2, 4, 3), 100, np.uint8)
    take = np.full((4, 8, 3), 200, np.uint8)
    out = review.onion(plate, take, 0.25)
    assert out.dtype == np.float32 and out.shape == (4, 8, 3)
    assert np.allclose(out, (0.75 * 100 + 0.25 * 200) / 255)
    assert np.allclose(review.onion(plate, take), 150 / 255)
    assert np.allclose(review.onion(plate, take, 0.0), 100 / 255) and np.allclose(review.onion(plate, take, 1.0), 200 / 255)
    for bad in (-0.01, 1.01):
        with pytest.raises(ValueError, match=rf"^opacity: expected a number in \[0, 1\], got {bad}$"):
            review.onion(plate, take, bad)


def test_wipe_shows_the_take_left_of_the_split():
    plate = np.zeros((2, 4, 3), np.uint8)
    take = np.full((2, 8, 3), 255, np.uint8)
    out = review.wipe(plate, take, 0.3)                 # 0.3 * 8 = 2.4 → 2 columns
    assert out.dtype == np.float32 and out.shape == (2, 8, 3)
    assert (out[:, :2] == 1.0).all() and (out[:, 2:] == 0.0).all()
    assert (review.wipe(plate, take, 0.32)[:, :3] == 1.0).all()      # 2.56 → 3
    assert (review.wipe(plate, take)[:, :4] == 1.0).all() and (review.wipe(plate, take)[:, 4:] == 0).all()
    assert (review.wipe(plate, take, 0.0) == 0).all() and (review.wipe(plate, take, 1.0) == 1).all()
    for bad in (-0.5, 2):
        with pytest.raises(ValueError, match=rf"^split: expected a number in \[0, 1\], got {bad}$"):
            review.wipe(plate, take, bad)
    mixed = np.zeros((2, 8, 3), np.uint8)
    mixed[:, :, 0] = 51
    assert np.allclose(review.wipe(plate, mixed, 1.0)[..., 0], 0.2)


# ---- timing -----------------------------------------------------------------------------------------

def test_a_timing_curve_is_sampled_at_each_output_frame_and_clamped():
    seen = []

    def curve(f):
        seen.append(f)
        return (f - 2) / 2
    assert timing.sample_progress(curve, 5) == [0.0, 0.0, 0.5, 1.0, 1.0]
    assert seen == [1.0, 2.0, 3.0, 4.0, 5.0] and all(isinstance(f, float) for f in seen)
    assert timing.sample_progress(lambda f: f, 2.9) == [1.0, 1.0]
    assert timing.sample_progress(lambda f: 0.25, 0) == []
    out = timing.sample_progress(lambda f: np.float32(0.5), 1)
    assert out == [0.5] and type(out[0]) is float


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_curve_that_is_not_finite_is_refused_by_track_and_frame(bad):
    with pytest.raises(timing.TimingError, match=r"^track 'Ball': its timing curve is not a finite number at frame 2$"):
        timing.sample_progress(lambda f: bad if f == 2 else 0.1, 3, "Ball")
    with pytest.raises(timing.TimingError, match=r"^track 'track': "):
        timing.sample_progress(lambda f: bad, 3)
    assert issubclass(timing.TimingError, ValueError)


def test_ticks_sit_on_the_arrow_at_each_frames_mean_displacement():
    plan = {"width": 100, "height": 50, "tracks": [{
        "arrow": [[10.0, 10.0], [40.0, 10.0]],
        "positions": [[[20.0, 20.0], [22.0, 22.0]], [[30.0, 20.0], [32.0, 22.0]], [[40.0, 20.0], [42.0, 22.0]]],
    }]}
    ((ticks, head),) = timing.tick_geometry(plan)
    assert np.allclose(ticks, [(0.1, 0.8), (0.2, 0.8), (0.3, 0.8)])
    # two barbs at ±30° behind the tip (30, 10), 12 px long (size_px 6 doubled), pointing left-back
    assert len(head) == 2
    tip = (0.3, 0.8)
    dx, dy = 12 * math.cos(math.pi / 6) / 100, 12 * math.sin(math.pi / 6) / 50
    barbs = sorted(tuple(np.round(b, 6)) for (_, b) in head)
    assert all(np.allclose(a, tip) for a, _ in head)
    assert np.allclose(barbs, sorted([(0.3 - dx, 0.8 + dy), (0.3 - dx, 0.8 - dy)]))
    small = timing.tick_geometry(plan, size_px=3.0)[0][1]
    assert np.allclose(sorted(b for _, b in small), sorted([(0.3 - dx / 2, 0.8 + dy / 2), (0.3 - dx / 2, 0.8 - dy / 2)]))


def test_arrowhead_barbs_turn_thirty_degrees_each_way_from_an_oblique_move():
    # the last move is (3, 4) px: u = (0.6, 0.8); barb k = tip - 12 * R(±30°) u, the + one first
    plan = {"width": 100, "height": 100, "tracks": [{"positions": [[[20.0, 10.0]], [[23.0, 14.0]]]}]}
    ((ticks, head),) = timing.tick_geometry(plan)
    assert np.allclose(ticks, [(0.2, 0.9), (0.23, 0.86)])
    c, s = math.cos(math.pi / 6), math.sin(math.pi / 6)
    ux, uy = 0.6, 0.8
    for (tip, barb), sign in zip(head, (1.0, -1.0)):
        bx = 23.0 - 12 * (ux * c - sign * uy * s)
        by = 14.0 - 12 * (uy * c + sign * ux * s)
        assert np.allclose(tip, (0.23, 0.86)) and np.allclose(barb, (bx / 100, 1 - by / 100))


def test_a_plan_without_a_size_is_read_as_one_pixel():
    ((ticks, head),) = timing.tick_geometry({"tracks": [{"positions": [[[0.25, 0.75]]]}]})
    assert np.allclose(ticks, [(0.25, 0.25)]) and head == []


def test_ticks_without_an_arrow_follow_the_mean_point_and_a_still_track_has_no_head():
    plan = {"width": 10, "height": 10, "tracks": [
        {"positions": [[[1.0, 1.0], [3.0, 3.0]], [[1.0, 5.0], [3.0, 7.0]], [[1.0, 5.0], [3.0, 7.0]]]},
        {"positions": [[[5.0, 5.0]], [[5.0, 5.0]]], "arrow": [[0.0, 0.0], [1.0, 0.0]]},
        {"positions": []},
        {"positions": [[], [[2.0, 2.0]]]},
    ]}
    (a, still, empty, gap) = timing.tick_geometry(plan)
    assert np.allclose(a[0], [(0.2, 0.8), (0.2, 0.4), (0.2, 0.4)])
    # the last move (not the last pair, which stands still) points the head: straight down
    (t1, b1), (t2, b2) = a[1]
    assert np.allclose(t1, (0.2, 0.4)) and np.allclose(b1[1], 0.4 + 12 * math.cos(math.pi / 6) / 10)
    assert still == ([(0.0, 1.0), (0.0, 1.0)], []) and empty == ([], [])
    assert np.allclose(gap[0], [(0.2, 0.8)]) and gap[1] == []


def test_ticks_with_a_framing_map_back_onto_the_reference():
    class Framing:              # output = reference * 2 + 10
        ref_w, ref_h = 50, 20

        @staticmethod
        def to_reference(pts):
            return (np.asarray(pts, float) - 10) / 2

    plan = {"width": 999, "height": 999, "tracks": [{"positions": [[[30.0, 30.0]], [[50.0, 30.0]]]}]}
    ((ticks, head),) = timing.tick_geometry(plan, framing=Framing())
    assert np.allclose(ticks, [(10 / 50, 1 - 10 / 20), (20 / 50, 1 - 10 / 20)])
    assert len(head) == 2 and np.allclose(head[0][0], (0.4, 0.5))
    assert timing.tick_geometry({}) == []
