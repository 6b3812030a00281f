"""Review: onion skin / A-B wipe against the plate, the take as Movie Clip and camera background."""
from __future__ import annotations

import numpy as np
import pytest

from .conftest import build_scene, connect, drive  # noqa: F401  (fixtures)
from .test_takes import _idle


def test_onion_and_wipe_mix_the_plate_and_the_take():
    from blender_addon.io import review
    plate = np.zeros((4, 8, 3), np.uint8)
    take = np.full((4, 8, 3), 200, np.uint8)
    np.testing.assert_allclose(review.onion(plate, take, 0.25), np.full((4, 8, 3), 50 / 255), atol=1e-6)
    w = review.wipe(plate, take, 0.5)
    assert (w[:, :4] == 200 / 255).all() and (w[:, 4:] == 0).all()
    big = np.zeros((8, 16, 3), np.uint8)                       # the plate is fitted to the take's size
    assert review.onion(big, take, 0.0).shape == (4, 8, 3)
    with pytest.raises(ValueError, match="opacity"):
        review.onion(plate, take, 1.5)


def test_review_image_movie_clip_and_camera_background(build_scene, server):
    from blender_addon.blender import review
    bpy = __import__("bpy")
    scene = build_scene(frames=4)
    connect(bpy, server.address)
    bpy.ops.trackgo.auto_pair()
    assert bpy.ops.trackgo.generate() == {"FINISHED"}
    drive(lambda: _idle(bpy), 90)
    scene.frame_current = 10 + 3                               # the strip's last frame
    assert bpy.ops.trackgo.take_compare(mode="WIPE", amount=1.0) == {"FINISHED"}
    img = bpy.data.images[review.REVIEW_IMAGE]
    from blender_addon.blender import takes
    strip = takes.strip_of(scene, scene.trackgo_takes[0])
    want = review._rgb(review.frame_path(scene, strip)).astype(np.float32) / 255
    got = np.array(img.pixels[:], np.float32).reshape(img.size[1], img.size[0], 4)[::-1, :, :3]
    np.testing.assert_allclose(got, want, atol=1e-6)           # split 1.0: all take, at the playhead
    assert review.frame_path(scene, strip).endswith("0004.png")

    assert bpy.ops.trackgo.take_movie_clip() == {"FINISHED"}
    clip = bpy.data.movieclips[-1]
    assert clip.frame_duration == 4 and clip.frame_start == 10
    if scene.camera is None:                                   # 4.2 scenes draw arrows as annotations
        cam = bpy.data.objects.new("Cam", bpy.data.cameras.new("Cam"))
        scene.collection.objects.link(cam)
        scene.camera = cam
    assert bpy.ops.trackgo.take_camera_background() == {"FINISHED"}
    bg = scene.camera.data.background_images[-1]
    assert scene.camera.data.show_background_images and bg.source == "MOVIE_CLIP" and bg.clip.frame_duration == 4
