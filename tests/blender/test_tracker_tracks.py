"""Point tracks from Blender's own tracker on a clip made from a real photograph panned by a known amount."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_addon.blender import tracker_tracks as tt  # noqa: E402
from tests.blender.conftest import server_python  # noqa: E402

W, H = 256, 192
FRAMES = 10
STEP = (2.5, 1.75)            # the window pans right/down by this per frame (sub-pixel): content moves by -STEP

# Runs in the server environment (OpenCV + scikit-image's bundled photographs, offline).
MAKE_CLIP = r"""
import json, sys, cv2
from skimage import data
photo = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)
out, w, h, n, sx, sy = sys.argv[1], *map(int, sys.argv[2:5]), *map(float, sys.argv[5:7])
import numpy as np
for f in range(n):                     # sub-pixel pan: the window at (100 + sx f, 80 + sy f), bilinear
    m = np.float32([[1, 0, 100 + sx * f], [0, 1, 80 + sy * f]])
    frame = cv2.warpAffine(photo, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
    cv2.imwrite(f"{out}/pan{f + 1:04d}.png", frame)
grey = cv2.cvtColor(photo[80:80 + h, 100:100 + w], cv2.COLOR_BGR2GRAY)
corners = cv2.goodFeaturesToTrack(grey, 12, 0.05, 24, mask=None, blockSize=7)
keep = [c for c in corners.reshape(-1, 2).tolist() if 30 < c[0] < w - 60 and 30 < c[1] < h - 50]
print(json.dumps(keep))
"""


@pytest.fixture
def clip(tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=False)
    res = subprocess.run([server_python(), "-c", MAKE_CLIP, str(tmp_path), str(W), str(H), str(FRAMES), *map(str, STEP)],
                         capture_output=True, text=True, check=True)
    corners = json.loads(res.stdout)
    assert len(corners) >= 4, corners
    clip = bpy.data.movieclips.load(str(tmp_path / "pan0001.png"))
    assert tuple(clip.size) == (W, H) and clip.frame_duration == FRAMES
    return clip, np.asarray(corners)


def track_with_blender(clip, starts):
    """Place markers at ``starts`` (protocol pixels) on frame 1 and run Blender's tracker forwards."""
    settings = clip.tracking.settings
    settings.default_pattern_size = 21
    settings.default_search_size = 61
    for i, (x, y) in enumerate(starts):
        track = clip.tracking.tracks.new(name=f"Feature{i}", frame=1)
        track.markers[0].co = ((x + 0.5) / W, 1.0 - (y + 0.5) / H)
        track.select = True
    window = bpy.context.window_manager.windows[0]
    area = window.screen.areas[0]
    area.type = "CLIP_EDITOR"
    area.spaces.active.clip = clip
    region = next(r for r in area.regions if r.type == "WINDOW")
    bpy.context.scene.frame_set(1)
    with bpy.context.temp_override(window=window, area=area, region=region):
        assert bpy.ops.clip.track_markers(backwards=False, sequence=True) == {"FINISHED"}


def test_blender_tracker_markers_become_point_tracks_within_half_a_pixel(clip):
    clip, corners = clip
    track_with_blender(clip, corners)
    left = np.zeros((H, W), bool)
    left[:, : W // 2] = True
    masks = [("Left", left), ("Right", ~left)]
    tracks = tt.tracker_tracks(clip, masks, frames=FRAMES)
    assert [t.name for t in tracks] == ["Left", "Right"]
    assert sum(t.points.shape[0] for t in tracks) == len(corners)
    truth_steps = np.arange(FRAMES)[:, None] * -np.asarray(STEP)
    for t in tracks:
        assert t.points.shape[1:] == (FRAMES, 2) and t.visible.all()
        side = (t.points[:, 0, 0] < W / 2) if t.name == "Left" else (t.points[:, 0, 0] >= W / 2)
        assert side.all()
        truth = t.points[:, :1] + truth_steps[None]
        error = np.linalg.norm(t.points - truth, axis=-1)
        print(f"tracker_error_max_px={error.max():.3f}")
        assert error.max() < 0.5, error.max()
    assert np.abs(tracks[0].points[:, -1] - tracks[0].points[:, 0]).max() > 20      # it really panned


def test_resampling_interpolates_and_untracked_frames_are_hidden(clip):
    clip, corners = clip
    track = clip.tracking.tracks.new(name="Short", frame=1)
    track.markers[0].co = (0.5, 0.5)
    track.markers.insert_frame(3, co=(0.6, 0.5))
    pos, vis = tt.marker_path(track, np.array([1.0, 2.0, 3.0, 4.0]), W, H)
    np.testing.assert_allclose(pos[:, 0], [0.5 * W - 0.5, 0.55 * W - 0.5, 0.6 * W - 0.5, 0.6 * W - 0.5])
    assert vis.tolist() == [True, False, True, False]      # frame 2: no marker between; 4: never tracked


def test_errors_name_the_mask_and_the_clip(clip):
    clip, corners = clip
    with pytest.raises(tt.TrackerTrackError, match="select"):
        tt.tracker_tracks(clip, [("All", np.ones((H, W), bool))], frames=FRAMES)
    track_with_blender(clip, corners[:1])
    empty = np.zeros((H, W), bool)
    empty[0, 0] = True
    with pytest.raises(tt.TrackerTrackError, match="Corner"):
        tt.tracker_tracks(clip, [("Corner", empty)], frames=FRAMES)


def test_clip_frame_is_the_first_file_wherever_the_clip_starts(clip):
    clip, corners = clip
    clip.frame_start = 20                      # placed later on the timeline: markers still count from 1
    assert tt.clip_range(clip) == (1, FRAMES)
    first = tt.clip_reference(clip)
    last = tt.clip_reference(clip, FRAMES)
    assert first.shape == (H, W, 3)
    dx, dy = (int(round(s * (FRAMES - 1))) for s in STEP)          # 22.5 -> 22 (banker's), 15.75 -> 16
    shifted = first[dy:, dx:].astype(int) - last[:H - dy, :W - dx].astype(int)
    unshifted = first[dy:, dx:].astype(int) - last[dy:, dx:].astype(int)
    assert np.abs(shifted).mean() < 0.5 * np.abs(unshifted).mean()   # last is first panned by the step
