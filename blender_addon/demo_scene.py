"""Builds TrackGo scenes from code, for the headless demo and the tests (not shipped in the zip).

Masks are Mask datablock layers made from pixel-space bezier points; arrows are Grease Pencil
strokes seen through an orthographic camera that frames the reference exactly (every Blender
line can create those from Python), or on 4.2 real annotation strokes.
"""
from __future__ import annotations

import os
import sys
import time

import bpy
import numpy as np

from .blender import compat
from .io import coords

KAPPA = 0.5522847498  # bezier handle length of a quarter circle


def circle_points(cx, cy, r, feather_px=0.0):
    """Four bezier points (pixels) of a circle, as (co, handle_left, handle_right, feather)."""
    k = KAPPA * r
    pts = []
    for dx, dy in ((1, 0), (0, 1), (-1, 0), (0, -1)):
        co = (cx + dx * r, cy + dy * r)
        t = (-dy, dx)
        pts.append((co, (co[0] - t[0] * k, co[1] - t[1] * k), (co[0] + t[0] * k, co[1] + t[1] * k), feather_px))
    return pts


def polygon_points(corners, feather_px=0.0):
    """Corner points with vector handles (a straight-edged spline)."""
    return [(c, c, c, feather_px) for c in corners]


def square_points(x0, y0, x1, y1, feather_px=0.0):
    return polygon_points([(x0, y0), (x1, y0), (x1, y1), (x0, y1)], feather_px)


def add_mask_layer(mask, name, points_px, width, height):
    """A mask layer with one cyclic spline from pixel-space bezier points."""
    layer = mask.layers.new(name=name)
    spline = layer.splines.new()
    spline.use_cyclic = True
    spline.points.add(len(points_px) - 1)
    for p, (co, left, right, feather) in zip(spline.points, points_px):
        m = coords.pixels_to_mask([co, left, right], width, height)
        p.handle_left_type = p.handle_right_type = "FREE"
        p.co, p.handle_left, p.handle_right = m[0], m[1], m[2]
        p.weight = feather / max(width, height)
    return layer


def image_from_rgba(name, rgba: np.ndarray):
    """A packed image from (H, W, 4) float pixels given top row first."""
    h, w = rgba.shape[:2]
    img = bpy.data.images.new(name, w, h)
    img.pixels.foreach_set(np.ascontiguousarray(rgba[::-1], dtype=np.float32).ravel())
    img.pack()
    return img


def gp_arrows_through_camera(scene, arrows_px, width, height, name="Arrows"):
    """Arrows as Grease Pencil strokes under an orthographic top camera framing the reference.

    The camera looks down -Z; its frame spans ``ortho_scale`` = 2 world units on the longer
    side, so pixel (x, y) sits at world ((x / w) * 2 - 1, ((h / 2) - y) * 2 / w) for w ≥ h."""
    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    cam_data = bpy.data.cameras.new(f"{name} Camera")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = 2.0
    cam = bpy.data.objects.new(f"{name} Camera", cam_data)
    cam.location = (0.0, 0.0, 10.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    side = float(max(width, height))

    def world(x, y):
        return ((x - width / 2) * 2 / side, (height / 2 - y) * 2 / side, 0.0)

    if compat.HAS_GP_V3:
        gp = compat.gp_v3_datablocks().new(name)
        drawing = gp.layers.new(name).frames.new(scene.frame_current).drawing
        for pts in arrows_px:
            drawing.add_strokes([len(pts)])
            stroke = drawing.strokes[len(drawing.strokes) - 1]
            for p, (x, y) in zip(stroke.points, pts):
                p.position = world(x, y)
    else:
        gp = bpy.data.grease_pencils.new(name)
        frame = gp.layers.new(name).frames.new(scene.frame_current)
        for pts in arrows_px:
            stroke = frame.strokes.new()
            stroke.points.add(len(pts))
            for p, (x, y) in zip(stroke.points, pts):
                p.co = world(x, y)
    obj = bpy.data.objects.new(name, gp)
    scene.collection.objects.link(obj)
    return obj


def annotation_arrows(arrows_px, width, height, name="Annotations"):
    """Real Image Editor annotation strokes (Blender 4.2 only: from 4.3 on Python cannot add
    annotation strokes; the add-on reads them all the same)."""
    annot = compat.new_annotation(name)
    frame = annot.layers.new("Note").frames.new(1)
    for pts in arrows_px:
        stroke = frame.strokes.new()
        stroke.points.add(len(pts))
        for p, (x, y) in zip(stroke.points, pts):
            p.co = (x / width, 1.0 - y / height, 0.0)
    return annot


def drive(until, timeout: float = 60.0, describe=lambda: "") -> float:
    """Headless stand-in for Blender's event loop: call the add-on's timer callback until
    ``until()`` holds. Returns the seconds it took; raises TimeoutError with the panel state."""
    t0 = time.monotonic()
    while not until():
        if time.monotonic() - t0 > timeout:
            raise TimeoutError(f"not done after {timeout:.0f} s: {describe()}")
        from .blender import session  # looked up per call: survives an add-on reload
        delay = session.tick()
        time.sleep(min(delay or 0.0, 0.005))
    return time.monotonic() - t0


def run_and_exit(main) -> None:
    """Run a bpy-module script's ``main()`` and leave the process with its status.

    The process ends with ``os._exit`` to skip the PyPI bpy module's own teardown, which
    segfaults (4.2) or hangs (4.5) once add-on classes and property callbacks have been
    registered (a bpy-module bug; Blender itself is fine). argparse errors and other
    ``SystemExit`` keep their message and status; any other error prints its traceback and
    exits 1 (letting it propagate would end in that teardown crash instead).
    """
    try:
        code = main()
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(exc.code, file=sys.stderr)
            code = 1
        else:
            code = int(exc.code or 0)
    except BaseException:  # noqa: BLE001 - reported, then the same clean exit
        import traceback
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code or 0)
