"""Reads what the animator drew into plain data: reference pixels, masks, arrows.

Masks: layers of a Mask datablock (bezier splines with handles and feather weights,
rasterised at the reference resolution by ``io.raster``) or painted mask images.
Arrows: annotation strokes (0–1 image space) or Grease Pencil strokes projected through the
active camera. The conversions themselves live in ``io.coords`` (pure, tested on point lists);
this module only walks Blender data.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..io import coords, framing, prepare, raster
from . import compat

MAX_ARROW_POINTS = 256


@dataclass(frozen=True)
class CapturedArrow:
    key: str                 # identity: "annotation:<layer>#<digest>" or "object:<name>:<layer>#<digest>"
    points: np.ndarray       # (N, 2) float pixels, tail first
    label: str = ""          # what the user reads: "<layer> stroke <n>"


def stroke_digest(points) -> str:
    """A stroke's identity: a digest of its own points (as Blender stores them), so it survives
    other strokes being erased or drawn, and changes when the stroke itself is edited."""
    arr = np.round(np.asarray([tuple(p) for p in points], dtype=np.float64), 5) + 0.0  # no -0.0
    return hashlib.sha1(arr.tobytes()).hexdigest()[:10]


def stroke_keys(prefix: str, strokes) -> list[tuple[str, str, int, list]]:
    """(key, label, index, points) per stroke; identical strokes in a layer are told apart by order."""
    out, seen = [], {}
    for layer, i, pts in strokes:
        if len(pts) < 2:
            continue
        key = f"{prefix}:{layer}#{stroke_digest(pts)}"
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key += f"~{seen[key]}"
        out.append((key, f"{layer} stroke {i + 1}", i, pts))
    return out


def annotation_keys(annotation) -> set[str]:
    """The identities of an annotation's strokes, without converting any point (panel drawing)."""
    return {k for k, _, _, _ in stroke_keys("annotation", compat.annotation_strokes(annotation))}


def object_keys(obj) -> set[str]:
    return {k for k, _, _, _ in stroke_keys(f"object:{obj.name}", compat.object_strokes(obj))}


class CaptureError(ValueError):
    """Input the add-on cannot use; the message names the thing at fault."""


def image_pixels(image) -> tuple[np.ndarray, int, int]:
    """(flat float32 RGBA bottom row first, width, height): the one copy out of Blender.
    Everything else (flip, sRGB, resize) happens on plain arrays, off the main thread."""
    w, h = image.size
    if w == 0 or h == 0:
        raise CaptureError(f"image {image.name!r}: expected pixels, got an empty or missing image "
                           f"({image.filepath or 'no file'})")
    buf = np.empty(w * h * 4, dtype=np.float32)
    image.pixels.foreach_get(buf)
    return buf, w, h


def image_rgba(image) -> np.ndarray:
    """(H, W, 4) float32, top row first, values as Blender stores them (0–1)."""
    buf, w, h = image_pixels(image)
    return buf.reshape(h, w, 4)[::-1]


def reference_rgb(image) -> np.ndarray:
    """The reference image as (H, W, 3) uint8 sRGB."""
    buf, w, h = image_pixels(image)
    return prepare.reference_srgb8(buf, w, h, image.is_float)


def painted_source(image) -> prepare.PaintedMask:
    return prepare.PaintedMask(*image_pixels(image))


def painted_mask(image, width: int, height: int) -> np.ndarray:
    """A painted mask image → uint8 (H, W) at ``width`` x ``height``: white (and opaque) is inside."""
    pm = painted_source(image)
    fr = framing.framing(pm.width, pm.height, width, height, "stretch")
    return raster.to_uint8(framing.resample(pm.coverage(), fr, nearest=True))


def mask_layer_data(layer, width: int, height: int) -> raster.Layer:
    """A ``MaskLayer`` as Blender-free :class:`raster.Layer` in pixel coordinates."""
    splines = []
    for si, spline in enumerate(layer.splines):
        pts = [(tuple(p.co), tuple(p.handle_left), tuple(p.handle_right), p.weight)
               for p in spline.points]
        if len(pts) < 2:
            raise CaptureError(f"mask layer {layer.name!r} spline {si}: expected at least 2 points")
        if not spline.use_fill:
            continue
        splines.append(raster.spline_from_mask_points(pts, width, height, cyclic=spline.use_cyclic))
    return raster.Layer(tuple(splines), invert=layer.invert, alpha=layer.alpha,
                        falloff=layer.falloff, name=layer.name)


def rasterize_mask_layer(layer, width: int, height: int) -> np.ndarray:
    """A Mask layer rasterised at the reference resolution, uint8 with a feathered edge."""
    return raster.to_uint8(raster.rasterize_layer(mask_layer_data(layer, width, height), width, height))


def arrow_from_points(points, width: int, height: int, space: str = "normalized") -> np.ndarray:
    """The seam: a stroke's point list → arrow pixels (tail first, curve kept).

    ``space`` is "normalized" (Image Editor annotations / camera view, 0–1, y up) or "pixels".
    Long strokes are thinned evenly to at most MAX_ARROW_POINTS, keeping both ends.
    """
    arr = np.asarray([p[:2] for p in points], dtype=np.float64)
    if len(arr) < 2:
        raise CaptureError(f"arrow: expected a stroke of at least 2 points, got {len(arr)}")
    if not np.isfinite(arr).all():
        raise CaptureError("arrow: stroke has non-finite coordinates")
    px = coords.normalized_to_pixels(arr, width, height) if space == "normalized" else arr
    if len(px) > MAX_ARROW_POINTS:
        idx = np.unique(np.linspace(0, len(px) - 1, MAX_ARROW_POINTS).round().astype(int))
        px = px[idx]
    return px


def annotation_arrows(annotation, width: int, height: int) -> list[CapturedArrow]:
    """Arrows from Image Editor annotation strokes (4.x legacy data or 5.0 Annotation)."""
    return [CapturedArrow(key, arrow_from_points(pts, width, height), label)
            for key, label, _, pts in stroke_keys("annotation", compat.annotation_strokes(annotation))]


def camera_arrows(obj, scene, width: int, height: int) -> list[CapturedArrow]:
    """Arrows from a Grease Pencil object's strokes seen through the scene camera.

    world = matrix_world @ local; ``world_to_camera_view`` gives 0–1 frame coordinates (y up),
    which map onto the reference image like annotations do.
    """
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    cam = scene.camera
    if cam is None:
        raise CaptureError(f"arrows object {obj.name!r}: expected an active scene camera to project through")
    r = scene.render
    frame_w, frame_h = r.resolution_x * r.pixel_aspect_x, r.resolution_y * r.pixel_aspect_y
    if abs(frame_w / frame_h - width / height) > 0.01 * (width / height):
        raise CaptureError(f"arrows object {obj.name!r}: the camera frame is {r.resolution_x}x"
                           f"{r.resolution_y} (render resolution) but the reference is {width}x{height}: "
                           f"expected the same aspect ratio, or the arrows would be stretched")
    mw = obj.matrix_world
    out = []
    for key, label, i, pts in stroke_keys(f"object:{obj.name}", compat.object_strokes(obj)):
        layer = label.rsplit(" stroke ", 1)[0]
        projected = [world_to_camera_view(scene, cam, mw @ Vector(p)) for p in pts]
        if any(v.z < 0.0 or (v.z == 0.0 and cam.data.type != "ORTHO") for v in projected):
            raise CaptureError(f"arrows object {obj.name!r}: stroke {layer}:{i} is (partly) behind the "
                               f"camera {cam.name!r}; expected strokes in front of it")
        view = [tuple(v)[:2] for v in projected]
        out.append(CapturedArrow(key, arrow_from_points(view, width, height), label))
    return out
