"""Tracker markers from a movie file (.mp4 written by Blender's own FFmpeg output): the clip made
from a real photograph panned by a known amount, tracked with Blender's tracker (issue 14)."""
from __future__ import annotations

import json
import os
import subprocess
from types import SimpleNamespace

import numpy as np
import pytest

bpy = pytest.importorskip("bpy")

from blender_addon.blender import compat  # noqa: E402
from blender_addon.blender import tracker_tracks as tt  # noqa: E402
from tests.blender.conftest import server_python  # noqa: E402
from tests.blender.test_tracker_tracks import FRAMES, H, MAKE_CLIP, STEP, W, track_with_blender  # noqa: E402


def encode_movie(folder, frames: int) -> str:
    """The PNG frames pan0001.png … as an H.264 .mp4 (lossless), written by Blender's own output."""
    scene = bpy.data.scenes.new("Encode")
    strip = compat.strips(scene.sequence_editor_create()).new_image("pan", str(folder / "pan0001.png"), 1, 1)
    for f in range(2, frames + 1):
        strip.elements.append(f"pan{f:04d}.png")
    r = scene.render
    r.resolution_x, r.resolution_y, r.resolution_percentage = W, H, 100
    scene.frame_start, scene.frame_end = 1, frames
    scene.view_settings.view_transform = "Standard"
    if hasattr(r.image_settings, "media_type"):          # 5.0 on: images and videos are separate kinds
        r.image_settings.media_type = "VIDEO"
    r.image_settings.file_format = "FFMPEG"
    r.ffmpeg.format, r.ffmpeg.codec, r.ffmpeg.constant_rate_factor = "MPEG4", "H264", "LOSSLESS"
    r.use_file_extension = False
    r.filepath = str(folder / "pan.mp4")
    bpy.ops.render.render(animation=True, scene=scene.name)
    bpy.data.scenes.remove(scene)
    return str(folder / "pan.mp4")


@pytest.fixture
def movie(tmp_path):
    bpy.ops.wm.read_factory_settings(use_empty=False)
    res = subprocess.run([server_python(), "-c", MAKE_CLIP, str(tmp_path), str(W), str(H), str(FRAMES), *map(str, STEP)],
                         capture_output=True, text=True, check=True)
    return tmp_path, np.asarray(json.loads(res.stdout))


def test_markers_tracked_on_a_movie_file_follow_the_pan_within_half_a_pixel(movie):
    folder, corners = movie
    if not bpy.app.ffmpeg.supported:          # this line's bpy cannot write or read movies: it says so
        with pytest.raises(tt.TrackerTrackError, match="without FFmpeg"):
            tt.tracker_tracks(_movie_clip_stand_in(), [("All", np.ones((H, W), bool))], frames=FRAMES)
        return
    path = encode_movie(folder, FRAMES)
    assert os.path.getsize(path) > 0
    clip = bpy.data.movieclips.load(path)
    assert clip.source == "MOVIE" and tuple(clip.size) == (W, H) and clip.frame_duration == FRAMES
    track_with_blender(clip, corners)
    everything = np.ones((H, W), bool)
    (track,) = tt.tracker_tracks(clip, [("All", everything)], frames=FRAMES)
    assert track.points.shape == (len(corners), FRAMES, 2) and track.visible.all()
    truth = track.points[:, :1] + np.arange(FRAMES)[None, :, None] * -np.asarray(STEP)
    error = np.linalg.norm(track.points - truth, axis=-1)
    print(f"movie_tracker_error_max_px={error.max():.3f}")
    assert error.max() < 0.5, error.max()
    # the reference frame of a movie clip: its first frame, decoded (was refused for movies)
    first = tt.clip_reference(clip)
    png = bpy.data.images.load(str(folder / "pan0001.png"))
    from blender_addon.blender import capture
    truth_rgb = capture.reference_rgb(png).astype(int)
    assert first.shape == (H, W, 3)
    grey = np.abs(first.astype(int).mean(axis=2) - truth_rgb.mean(axis=2))
    assert grey.mean() < 2.0, grey.mean()          # H.264 keeps grey; colour is subsampled
    with pytest.raises(tt.TrackerTrackError, match="first frame"):
        tt.clip_reference(clip, FRAMES)


def _movie_clip_stand_in():
    """A movie clip's fields as check_clip reads them (a MovieClip's source is read-only in 5.x)."""
    return SimpleNamespace(name="shot.mp4", source="MOVIE", size=(W, H), filepath="//shot.mp4")


def test_without_ffmpeg_a_movie_clip_is_refused_by_name(movie):
    folder, _ = movie
    clip = bpy.data.movieclips.load(str(folder / "pan0001.png"))
    tt.check_clip(clip, ffmpeg=False)                  # an image sequence needs no FFmpeg
    with pytest.raises(tt.TrackerTrackError, match=r"'shot.mp4'.*without FFmpeg.*image sequence"):
        tt.check_clip(_movie_clip_stand_in(), ffmpeg=False)
