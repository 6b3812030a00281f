import cv2
import numpy as np
import pytest

from server.backends.preview import render_preview
from server.backends.preview_render import PreviewRenderer, background_plate
from server.motion import tau_gate as tau_strength
from server.motion import ArrowPath, trajectories_from_tracks
from tests.preview.conftest import disc_mask, photo, red_disc_scene, redness, weighted_centre

CURVED = [(150, 140), (250, 100), (330, 160), (300, 220)]


@pytest.mark.parametrize("easing", ["linear", "ease-in", "ease-out", "ease-in-out"])
@pytest.mark.parametrize("arrow", [[(150, 140), (360, 190)], CURVED], ids=["straight", "curved"])
@pytest.mark.parametrize("tau", [0.0, -1e4])
def test_region_centre_follows_the_arrow_at_every_frame(arrow, easing, tau):
    ref, mask = red_disc_scene()
    frames = render_preview(ref, [mask], [arrow], easing, 14, tau, seed=1)
    start = weighted_centre(mask.astype(float))
    expected = start + ArrowPath(arrow).displacements(14, easing)
    for i, frame in enumerate(frames):
        got = weighted_centre(redness(frame))
        assert np.hypot(*(got - expected[i])) <= 1.0, (i, got, expected[i])


def test_first_frame_is_the_reference():
    ref = photo("astronaut", 448, 320)
    mask = disc_mask(320, 448, (200, 150), 60)
    frames = render_preview(ref, [mask], [[(200, 150), (260, 170)]], "linear", 6, 0.0)
    np.testing.assert_array_equal(frames[0], ref)


def test_far_pixels_unchanged_when_tau_freezes_and_moving_when_the_background_follows():
    h, w = 320, 576
    ref = photo("coffee", w, h)
    masks = [disc_mask(h, w, (150, 120), 50), disc_mask(h, w, (420, 200), 40)]
    arrows = [[(150, 120), (200, 150)], [(420, 200), (380, 160)]]
    reach = np.zeros((h, w), np.uint8)
    for m, a in zip(masks, arrows):
        grown = cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=12)
        for d in ArrowPath(a).displacements(9):
            M = np.float32([[1, 0, d[0]], [0, 1, d[1]]])
            reach |= cv2.warpAffine(grown, M, (w, h))
    far = reach == 0
    assert far.mean() > 0.5
    for still in (render_preview(ref, masks, arrows, "linear", 9, -1e4, follow=1.0),
                  render_preview(ref, masks, arrows, "linear", 9, 0.0)):      # the default: follow = 0
        for frame in still:
            np.testing.assert_array_equal(frame[far], ref[far])
    free = render_preview(ref, masks, arrows, "linear", 9, 0.0, follow=1.0)
    assert np.abs(free[-1][far].astype(int) - ref[far]).mean() > 1.0


def test_intermediate_tau_interpolates_monotonically():
    assert tau_strength(0.0) == 1.0 and tau_strength(-1e4) == 0.0
    assert tau_strength(-100.0) == pytest.approx(0.5, abs=0.01)
    taus = [0.0, -1.0, -10.0, -100.0, -1000.0, -1e4]
    strengths = [tau_strength(t) for t in taus]
    assert all(a > b for a, b in zip(strengths, strengths[1:]))
    h, w = 256, 384
    ref = photo("chelsea", w, h)
    mask = disc_mask(h, w, (190, 128), 50)
    far = ~disc_mask(h, w, (190, 128), 110)
    change = []
    for tau in (0.0, -100.0, -1e4):
        last = render_preview(ref, [mask], [[(190, 128), (240, 128)]], "linear", 5, tau, follow=1.0)[-1]
        change.append(np.abs(last[far].astype(int) - ref[far]).mean())
    assert change[0] > change[1] > change[2] == 0.0
    with pytest.raises(ValueError, match="tau"):
        tau_strength(1.0)
    with pytest.raises(ValueError, match="tau"):
        tau_strength(-2e4)


def test_vacated_area_is_filled_plausibly_never_black():
    ref, mask = red_disc_scene()
    last = render_preview(ref, [mask], [[(150, 140), (400, 140)]], "linear", 5, -1e4)[-1]
    vacated = disc_mask(*mask.shape, (150, 140), 36)
    # the hole shows the grey around it, not black and not the disc
    assert np.abs(last[vacated].astype(int) - 128).max() <= 12
    assert last.reshape(-1, 3).max(axis=1).min() >= 100


def test_no_black_holes_on_a_photo_with_big_moves_and_camera_mask():
    h, w = 320, 448
    ref = photo("rocket", w, h)
    ref = np.maximum(ref, 40)                                  # no black in the input
    masks = [disc_mask(h, w, (120, 160), 70), np.ones((h, w), bool), disc_mask(h, w, (330, 100), 40)]
    arrows = [[(120, 160), (420, 10)], [(200, 160), (150, 200)], [(330, 100), (330, 300)]]
    for tau in (0.0, -1e4):
        frames = render_preview(ref, masks, arrows, ["linear", "ease-out", "ease-in"], 8, tau)
        assert frames.reshape(-1, 3).max(axis=1).min() >= 30


def test_later_tracks_are_drawn_on_top():
    h, w = 200, 300
    ref = np.full((h, w, 3), 128, np.uint8)
    a = disc_mask(h, w, (80, 100), 30)
    b = disc_mask(h, w, (220, 100), 30)
    ref[a] = (250, 0, 0)
    ref[b] = (0, 0, 250)
    # both meet in the middle at the last frame
    last = render_preview(ref, [a, b], [[(80, 100), (150, 100)], [(220, 100), (150, 100)]], "linear", 5, -1e4)[-1]
    assert tuple(last[100, 150]) == (0, 0, 250)
    last = render_preview(ref, [b, a], [[(220, 100), (150, 100)], [(80, 100), (150, 100)]], "linear", 5, -1e4)[-1]
    assert tuple(last[100, 150]) == (250, 0, 0)


def test_feathered_edges():
    """A region moved over a different background blends into it over a few pixels."""
    ref, mask = red_disc_scene()
    ref[:, 250:] = (0, 0, 200)                                   # blue on the right
    last = render_preview(ref, [mask], [[(150, 140), (300, 140)]], "linear", 3, -1e4)[-1]
    red_channel = last[140, 340:360, 0].astype(int)              # right of the moved disc
    partial = (red_channel > 5) & (red_channel < 123)            # neither grey ring (128) nor blue (0)
    assert partial.sum() >= 2                                    # a soft ramp, not a hard cut
    assert np.all(np.diff(red_channel[2:]) <= 0)                 # monotone fall-off outwards
    assert red_channel[-1] == 0


@pytest.mark.parametrize("tau", [0.0, -1e2, -1e4])
def test_camera_move_shifts_the_whole_frame_with_replicated_borders(tau):
    # the background plate stays still: the camera layer itself must cover the border
    h, w = 256, 384
    ref = np.maximum(photo("astronaut", w, h), 1)               # no black in the input
    frames = render_preview(ref, [np.ones((h, w), bool)], [[(10, 10), (30, 0)]], "linear", 3, tau, follow=1.0)
    last = frames[-1]
    # content moved 20 px right and 10 px up
    np.testing.assert_array_equal(last[0:h - 10, 20:], ref[10:, : w - 20])
    # the revealed strips continue the frame's edge column / row (no mirrored copy, never black)
    np.testing.assert_array_equal(last[: h - 10, :20], np.repeat(ref[10:, :1], 20, axis=1))
    np.testing.assert_array_equal(last[h - 10:, 20:], np.repeat(ref[-1:, : w - 20], 10, axis=0))
    assert last.reshape(-1, 3).max(axis=1).min() > 0


@pytest.mark.parametrize("size", [(640, 384), (384, 640), (320, 320), (1024, 576), (64, 128)])
def test_any_output_size_and_aspect(size):
    w, h = size
    ref = photo("coffee", w, h)
    centre = (w // 2, h // 2)
    mask = disc_mask(h, w, centre, max(4, min(w, h) // 6))
    arrow = [centre, (centre[0] + w // 8, centre[1] + h // 10)]
    frames = render_preview(ref, [mask], [arrow], "ease-in-out", 5, -100.0)
    assert frames.shape == (5, h, w, 3) and frames.dtype == np.uint8
    got = weighted_centre(mask.astype(float))
    assert np.isfinite(got).all()


def test_deterministic():
    h, w = 256, 384
    ref = photo("chelsea", w, h)
    masks = [disc_mask(h, w, (120, 120), 50), disc_mask(h, w, (280, 130), 40)]
    arrows = [[(120, 120), (180, 90), (220, 140)], [(280, 130), (250, 200)]]
    a = render_preview(ref, masks, arrows, ["ease-in", "linear"], 10, -50.0, seed=4)
    b = render_preview(ref, masks, arrows, ["ease-in", "linear"], 10, -50.0, seed=4)
    np.testing.assert_array_equal(a, b)


def test_region_deforms_smoothly_when_its_points_move_apart():
    """Points of one region moving differently (tracked input) stretch it along a dense field."""
    h, w = 200, 300
    ref = np.full((h, w, 3), 128, np.uint8)
    mask = np.zeros((h, w), bool)
    mask[70:130, 100:200] = True
    ref[mask] = (60, 200, 60)
    ref[95:105, 110:120] = (250, 0, 0)          # a red marker on the left
    ref[95:105, 180:190] = (0, 0, 250)          # a blue marker on the right
    start = np.array([[x, y] for x in (105, 125, 175, 195) for y in (75, 100, 125)], np.float32)
    moves = np.where(start[:, :1] < 150, -20.0, 20.0) * np.array([1.0, 0.0], np.float32)
    positions = np.stack([start, start + moves / 2, start + moves])
    traj = trajectories_from_tracks(positions, np.zeros(len(start), int))
    last = PreviewRenderer(ref, [mask], traj, -1e4).frame(2)
    red = weighted_centre(redness(last) * (last[..., 2] < 100))
    blue_weight = np.clip((last[..., 2].astype(float) - last[..., 1]) / 250.0, 0, 1)
    blue = weighted_centre(blue_weight)
    assert np.hypot(*(red - (94.5, 99.5))) <= 2.0       # moved ~20 px left
    assert np.hypot(*(blue - (204.5, 99.5))) <= 2.0     # moved ~20 px right
    # the middle of the region stays put (no tear between the two halves)
    assert tuple(last[100, 150]) == (60, 200, 60)


def test_background_plate_fills_only_holes():
    ref = photo("coffee", 320, 256)
    holes = disc_mask(256, 320, (160, 128), 40)
    plate = background_plate(ref, holes)
    np.testing.assert_array_equal(plate[~holes], ref[~holes])
    assert np.array_equal(background_plate(ref, np.ones_like(holes)), ref)


def test_bad_inputs_have_clear_errors():
    ref, mask = red_disc_scene()
    with pytest.raises(ValueError, match=r"tracks\[0\]\.mask.*empty"):
        render_preview(ref, [np.zeros_like(mask)], [[(0, 0), (5, 5)]], "linear", 4, 0.0)
    with pytest.raises(ValueError, match="reference"):
        render_preview(ref[..., 0], [mask], [[(0, 0), (5, 5)]], "linear", 4, 0.0)
    with pytest.raises(ValueError, match=r"tracks\[0\]\.arrow\.points"):
        render_preview(ref, [mask], [[(5, 5), (5, 5)]], "linear", 4, 0.0)
    with pytest.raises(ValueError, match="tau"):
        render_preview(ref, [mask], [[(0, 0), (5, 5)]], "linear", 4, 3.0)
    with pytest.raises(ValueError, match=r"tracks\[0\]\.mask.*like the reference"):
        PreviewRenderer(ref, [mask[:100]], trajectories_from_tracks(np.zeros((2, 1, 2)), [0]), 0.0)
    with pytest.raises(ValueError, match=r"tracks\[1\]: expected at least one trajectory point"):
        PreviewRenderer(ref, [mask] * 3, trajectories_from_tracks(np.zeros((2, 2, 2)), [0, 2]), 0.0)
