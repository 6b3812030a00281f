"""Review a take against the plate: onion skin / A-B wipe in the Image Editor, and the take as a
Movie Clip or as the scene camera's background (previs in the 3D viewport)."""
from __future__ import annotations

import os

import bpy
import numpy as np

from ..io import review as io_review
from . import capture, compat, takes

REVIEW_IMAGE = "TrackGo Review"


def frame_path(scene, strip) -> str:
    """The take's frame at the playhead (clamped to the strip)."""
    index = int(scene.frame_current - compat.strip_content_start(strip))
    index = max(0, min(index, len(strip.elements) - 1))
    return os.path.join(bpy.path.abspath(strip.directory), strip.elements[index].filename)


def _rgb(path: str) -> np.ndarray:
    img = bpy.data.images.load(path, check_existing=False)
    try:
        return capture.reference_rgb(img)
    finally:
        bpy.data.images.remove(img)


def compare(context, take, mode: str = "ONION", amount: float = 0.5):
    """The review image (onion skin or wipe of the take's current frame over the reference)."""
    scene = context.scene
    strip = takes.strip_of(scene, take)
    if strip is None:
        raise ValueError(f"{take.name}: its strip is gone, there is nothing to review")
    ref = scene.trackgo.reference
    if ref is None:
        raise ValueError("Review: pick the reference (the plate) first")
    plate = capture.reference_rgb(ref)
    frame = _rgb(frame_path(scene, strip))
    rgb = io_review.onion(plate, frame, amount) if mode == "ONION" else io_review.wipe(plate, frame, amount)
    h, w = rgb.shape[:2]
    img = bpy.data.images.get(REVIEW_IMAGE)
    if img is None or tuple(img.size) != (w, h):
        if img is not None:
            bpy.data.images.remove(img)
        img = bpy.data.images.new(REVIEW_IMAGE, w, h)
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = rgb
    img.pixels.foreach_set(np.ascontiguousarray(rgba[::-1]).ravel())
    img.update()
    space = getattr(context, "space_data", None)
    if space is not None and getattr(space, "type", "") == "IMAGE_EDITOR":
        space.image = img
    return img


def movie_clip(scene, take):
    """The take's frames as a Movie Clip (image sequence), starting where its strip starts."""
    strip = takes.strip_of(scene, take)
    if strip is None:
        raise ValueError(f"{take.name}: its strip is gone")
    first = os.path.join(bpy.path.abspath(strip.directory), strip.elements[0].filename)
    clip = bpy.data.movieclips.load(first)
    clip.name = f"TrackGo {take.name}"
    clip.frame_start = int(compat.strip_content_start(strip))
    return clip


def camera_background(scene, take):
    """Show the take behind the scene camera's view (as a Movie Clip background)."""
    cam = scene.camera
    if cam is None or cam.type != "CAMERA":
        raise ValueError("Camera background: the scene has no active camera")
    clip = movie_clip(scene, take)
    cam.data.show_background_images = True
    bg = cam.data.background_images.new()
    bg.source = "MOVIE_CLIP"
    bg.clip = clip
    bg.use_camera_clip = False
    return bg
