"""The reference frame of a scene-driven shot: rendered from the camera, or a plate aligned with it.

* **render** — Workbench (fast, flat shading: blocking) or EEVEE (lit), the user's choice. EEVEE
  renders through OpenGL: without a GPU that is Mesa's software rasteriser (llvmpipe) — slow, a
  minute or more even for a tiny image — and where no OpenGL context can be made at all the
  render fails, which :func:`cannot_render` turns into a sentence that names the way out. The
  engine, camera, frame, size and output path are set for the one render and put back after.
  The still goes through a file because the "Render Result" image has no readable pixels in
  background mode.
* **plate** — the camera's background image (or any image), fitted to the camera frame the way
  the camera's background image is drawn (stretch, fit or crop), so the scene's points land on
  the picture the way the animator saw them through the camera.
"""
from __future__ import annotations

import os
import tempfile

import bpy
import numpy as np

from ..io import framing
from . import capture

ENGINES = ("WORKBENCH", "EEVEE")


class ReferenceError(ValueError):
    """The reference frame cannot be made; the message names what is missing."""


def engine_id(choice: str) -> str:
    """Blender's engine identifier for WORKBENCH / EEVEE in this Blender line."""
    items = {e.identifier for e in bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items}
    if choice == "WORKBENCH":
        return "BLENDER_WORKBENCH"
    if choice == "EEVEE":
        for name in ("BLENDER_EEVEE_NEXT", "BLENDER_EEVEE"):       # 4.2–4.5, then 5.0
            if name in items:
                return name
    raise ReferenceError(f"render engine: expected one of {ENGINES}, got {choice!r}")


def cannot_render(engine: str, why: str) -> str:
    """What the user reads when a render engine cannot make the reference in this Blender."""
    if engine == "EEVEE":
        return (f"EEVEE cannot render here (Blender {bpy.app.version_string}, {why}): EEVEE needs OpenGL, "
                "which Blender's bpy module without a GPU may not have; use Workbench Render or Camera Plate")
    return f"render: {engine} could not render the reference ({why})"


def render_reference(scene, camera, engine: str = "WORKBENCH", frame: float | None = None,
                     width: int | None = None, height: int | None = None) -> np.ndarray:
    """Render the camera's view at ``frame`` as (H, W, 3) uint8 sRGB (the scene's settings restored)."""
    if camera is None or camera.type != "CAMERA":
        raise ReferenceError(f"camera: expected a camera object, got {getattr(camera, 'name', camera)!r}")
    r = scene.render
    saved = (r.engine, scene.camera, r.filepath, r.resolution_x, r.resolution_y, r.resolution_percentage,
             r.image_settings.file_format, r.image_settings.color_mode, scene.frame_current, scene.frame_subframe)
    folder = tempfile.mkdtemp(prefix="trackgo-ref-")
    path = os.path.join(folder, "reference.png")
    image = None
    try:
        r.engine = engine_id(engine)
        scene.camera = camera
        if width and height:
            r.resolution_x, r.resolution_y, r.resolution_percentage = int(width), int(height), 100
        r.image_settings.file_format = "PNG"
        r.image_settings.color_mode = "RGB"
        r.filepath = path
        if frame is not None:
            whole = int(np.floor(frame))
            scene.frame_set(whole, subframe=float(frame - whole))
        try:
            bpy.ops.render.render(write_still=True, scene=scene.name)
        except RuntimeError as exc:
            raise ReferenceError(cannot_render(engine, str(exc).strip())) from None
        if not os.path.exists(path):
            raise ReferenceError(cannot_render(engine, "it wrote no image"))
        image = bpy.data.images.load(path)
        return capture.reference_rgb(image)
    finally:
        if image is not None:
            bpy.data.images.remove(image)
        (r.engine, scene.camera, r.filepath, r.resolution_x, r.resolution_y, r.resolution_percentage,
         r.image_settings.file_format, r.image_settings.color_mode) = saved[:8]
        scene.frame_set(saved[8], subframe=saved[9])
        for name in os.listdir(folder):
            os.remove(os.path.join(folder, name))
        os.rmdir(folder)


def plate_image(camera):
    """The camera's first background image that has an image, or None."""
    for bg in getattr(camera.data, "background_images", []):
        if bg.image is not None:
            return bg
    return None


def plate_reference(camera, width: int, height: int, image=None, frame_method: str | None = None) -> np.ndarray:
    """A plate fitted to the camera frame as (H, W, 3) uint8: ``image`` or the camera's background image.

    ``frame_method`` (STRETCH, FIT, CROP) defaults to the background image's own setting.
    """
    if image is None:
        bg = plate_image(camera)
        if bg is None:
            raise ReferenceError(f"plate: camera {camera.name!r} has no background image; add one in the "
                                 "camera's Background Images panel or pick an image")
        image, frame_method = bg.image, frame_method or bg.frame_method
    rgb = capture.reference_rgb(image)
    return fit_plate(rgb, width, height, frame_method or "STRETCH")


def fit_plate(rgb: np.ndarray, width: int, height: int, frame_method: str) -> np.ndarray:
    """Place an image in a width x height frame as Blender draws camera background images
    (STRETCH, FIT: pad with black, CROP: cut the overflow; centred) — the add-on's one framing."""
    h, w = rgb.shape[:2]
    mode = {"STRETCH": "stretch", "FIT": "pad", "CROP": "crop"}.get(frame_method, "stretch")
    return framing.resample(rgb, framing.framing(w, h, width, height, mode), nearest=True)
