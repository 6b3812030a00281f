"""Grab Sequencer Frame on a movie strip (issue 16, item 11): the frame at the playhead at the
movie's own size — not upscaled to the render size, no black bars — and the scene as it was.
The movie is made here by Blender's own FFmpeg output (lossless PNG-in-Matroska)."""
from __future__ import annotations

import os

import numpy as np
import pytest

from .conftest import make_reference  # noqa: F401

MW, MH = 160, 120  # the movie's own size


def _frame_rgba(i: int) -> np.ndarray:
    """Frame ``i`` of the test movie: a gradient and a checker, a different colour per frame."""
    ys, xs = np.mgrid[0:MH, 0:MW]
    rgba = np.ones((MH, MW, 4), dtype=np.float32)
    rgba[..., 0] = xs / MW
    rgba[..., 1] = ys / MH
    rgba[..., 2] = (0.2 + 0.3 * i) * ((xs // 20 + ys // 20) % 2)
    return rgba


def _make_movie(bpy, folder) -> str:
    """Three frames written by Blender's FFmpeg output from a scratch scene; returns the path."""
    from blender_addon import demo_scene
    from blender_addon.blender import compat

    scratch = bpy.data.scenes.new("Movie maker")
    se = scratch.sequence_editor_create()
    for i in range(3):
        img = demo_scene.image_from_rgba(f"movie frame {i}", _frame_rgba(i))
        img.filepath_raw = str(folder / f"frame_{i}.png")
        img.file_format = "PNG"
        img.save()
        compat.strips(se).new_image(name=f"f{i}", filepath=img.filepath_raw, channel=1, frame_start=1 + i)
    r = scratch.render
    r.resolution_x, r.resolution_y, r.resolution_percentage = MW, MH, 100
    scratch.frame_start, scratch.frame_end = 1, 3
    ims = r.image_settings
    if hasattr(ims, "media_type"):
        ims.media_type = "VIDEO"
    ims.file_format = "FFMPEG"
    ims.color_mode = "RGB"
    r.ffmpeg.format, r.ffmpeg.codec = "MKV", "PNG"   # lossless
    scratch.view_settings.view_transform = "Standard"
    r.filepath = str(folder / "plate_")
    bpy.ops.render.render(animation=True, scene=scratch.name)
    movies = [f for f in os.listdir(folder) if f.startswith("plate_") and f.endswith(".mkv")]
    assert len(movies) == 1, os.listdir(folder)
    bpy.data.scenes.remove(scratch)
    return str(folder / movies[0])


def _movie_scene(bpy, path):
    from blender_addon.blender import compat

    scene = bpy.context.scene
    scene.render.resolution_x, scene.render.resolution_y, scene.render.resolution_percentage = 1920, 1080, 100
    se = scene.sequence_editor_create()
    strip = compat.strips(se).new_movie(name="Plate", filepath=path, channel=2, frame_start=10, fit_method="FIT")
    return scene, strip


def _reference_rgb(image) -> np.ndarray:
    from blender_addon.blender import capture
    return capture.reference_rgb(image).astype(int)


def test_grab_takes_a_movie_frame_at_the_movies_own_size(addon, tmp_path):
    bpy = addon
    if not bpy.app.build_options.codec_ffmpeg:  # no way to make or read a movie: the operator says so
        from blender_addon.blender import compat
        scene = bpy.context.scene
        open(tmp_path / "plate.mkv", "wb").close()
        compat.strips(scene.sequence_editor_create()).new_movie(name="Plate", filepath=str(tmp_path / "plate.mkv"),
                                                               channel=1, frame_start=1)
        with pytest.raises(RuntimeError, match="built without FFmpeg"):
            bpy.ops.trackgo.grab_sequencer_frame()
        return
    scene, strip = _movie_scene(bpy, _make_movie(bpy, tmp_path))
    assert strip.transform.scale_x > 1.0  # fitted: the preview shows it upscaled to 1920x1080
    saved = (strip.transform.scale_x, strip.transform.scale_y, scene.render.resolution_x, scene.render.resolution_y)
    scene.frame_current = 11                # the movie's second frame
    assert bpy.ops.trackgo.grab_sequencer_frame() == {"FINISHED"}
    ref = scene.trackgo.reference
    assert tuple(ref.size) == (MW, MH) and ref.packed_file is not None
    want = np.clip(np.rint(_frame_rgba(1)[..., :3] * 255), 0, 255).astype(int)
    diff = np.abs(_reference_rgb(ref) - want)
    assert diff.max() <= 2, diff.max()
    others = [np.abs(_reference_rgb(ref) - np.rint(_frame_rgba(i)[..., :3] * 255)).max() for i in (0, 2)]
    assert min(others) > 20  # it is that frame, not a neighbour
    assert (strip.transform.scale_x, strip.transform.scale_y, scene.render.resolution_x,
            scene.render.resolution_y) == saved


def test_grab_says_when_this_blender_cannot_read_movies(addon, tmp_path, monkeypatch):
    """The message a Blender without FFmpeg gives (here FFmpeg is switched off for the add-on)."""
    bpy = addon
    from blender_addon.blender import compat, sequencer_grab

    scene = bpy.context.scene
    path = tmp_path / "plate.mkv"
    if bpy.app.build_options.codec_ffmpeg:
        path = _make_movie(bpy, tmp_path)
    else:
        open(path, "wb").close()
    compat.strips(scene.sequence_editor_create()).new_movie(name="Plate", filepath=str(path), channel=1,
                                                            frame_start=1)
    monkeypatch.setattr(sequencer_grab, "has_ffmpeg", lambda: False)
    with pytest.raises(RuntimeError, match="built without FFmpeg"):
        bpy.ops.trackgo.grab_sequencer_frame()
    assert scene.trackgo.error.startswith("Sequencer: movie strip 'Plate' cannot be read: this Blender was "
                                          "built without FFmpeg")
    assert scene.trackgo.reference is None
