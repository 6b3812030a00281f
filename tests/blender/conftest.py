"""Fixtures for the add-on tests (run in each Blender environment with the PyPI ``bpy``).

* ``server`` / ``slow_server``: the real model server as a subprocess of the server
  environment (``$TRACKGO_SERVER_PYTHON -m server``), started through the add-on's own launcher.
* ``addon``: the add-on registered on a fresh empty scene, unregistered afterwards.
* ``build_scene``: reference image, a Mask datablock with two layers, two arrows.
* ``drive``: calls the timer callback like ``bpy.app.timers`` would until a condition holds.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
W, H = 256, 128            # reference size of the test scene
CIRCLE = (64.0, 64.0, 24.0)         # cx, cy, r in pixels (layer "Ball")
SQUARE = (170.0, 40.0, 210.0, 80.0)  # x0, y0, x1, y1 in pixels (layer "Box")
ARROW_BALL = [(64.0, 64.0), (90.0, 60.0), (120.0, 64.0)]   # tail inside the circle, curved
ARROW_BOX = [(190.0, 60.0), (190.0, 100.0)]               # tail inside the square
KAPPA = 0.5522847498


def server_python() -> str:
    py = os.environ.get("TRACKGO_SERVER_PYTHON") or str(ROOT / ".venvs" / "server" / "bin" / "python")
    if not Path(py).exists():
        raise RuntimeError(f"TRACKGO_SERVER_PYTHON: expected the server environment's python, {py} does not exist")
    return py


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def start_server(backend: str = "preview", env_extra: dict | None = None, heartbeat: float = 0.5):
    from blender_addon.io.launcher import LocalServer

    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.update(env_extra or {})
    srv = LocalServer(server_python(), free_address(), backend=backend, cwd=str(ROOT), env=env,
                      extra_args=["--heartbeat-interval", str(heartbeat), "--log-level", "warning"])
    srv.start()
    status = srv.wait_ready(60)
    if status.state != "ready":
        srv.stop()
        raise RuntimeError(status.message)
    return srv


@pytest.fixture(scope="session")
def server():
    srv = start_server("preview")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def slow_server():
    srv = start_server("tests.blender.slow_backend:create_backend")
    yield srv
    srv.stop()


@pytest.fixture
def addon(tmp_path):
    """The add-on registered on a fresh factory scene; preferences point at nothing yet."""
    import bpy

    import blender_addon
    from blender_addon.blender import preferences, session

    bpy.ops.wm.read_factory_settings(use_empty=True)
    blender_addon.register()
    saved = dict(vars(preferences.FALLBACK))
    preferences.FALLBACK.timeout = 5.0
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "shot.blend"))
    yield bpy
    session.shutdown()
    vars(preferences.FALLBACK).update(saved)
    blender_addon.unregister()


def drive(until, timeout: float = 30.0) -> float:
    """Call the timer callback until ``until()`` is true; returns the seconds it took."""
    from blender_addon.blender import session

    t0 = time.monotonic()
    while not until():
        if time.monotonic() - t0 > timeout:
            raise AssertionError(f"condition not reached in {timeout} s; status: "
                                 f"{_status()}")
        delay = session.tick()
        time.sleep(min(delay or 0.0, 0.005))
    return time.monotonic() - t0


def _status() -> str:
    import bpy
    st = bpy.context.scene.trackgo
    return f"{st.status!r} error={st.error!r} progress={st.progress_text!r}"


def circle_points(cx, cy, r, feather_px=0.0):
    """Four bezier points (pixels) approximating a circle, as (co, left, right, feather)."""
    k = KAPPA * r
    pts = []
    for dx, dy in ((1, 0), (0, 1), (-1, 0), (0, -1)):
        co = (cx + dx * r, cy + dy * r)
        tangent = (-dy, dx)
        left = (co[0] - tangent[0] * k, co[1] - tangent[1] * k)
        right = (co[0] + tangent[0] * k, co[1] + tangent[1] * k)
        pts.append((co, left, right, feather_px))
    return pts


def square_points(x0, y0, x1, y1, feather_px=0.0):
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    return [(c, c, c, feather_px) for c in corners]  # vector handles on the corners


def add_mask_layer(mask, name, points_px, width, height):
    """A mask layer with one cyclic spline from pixel-space bezier points."""
    from blender_addon.io import coords

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


def make_reference(bpy, width=W, height=H, name="Reference"):
    img = bpy.data.images.new(name, width, height)
    ys, xs = np.mgrid[0:height, 0:width]
    rgba = np.zeros((height, width, 4), dtype=np.float32)
    rgba[..., 0] = xs / width
    rgba[..., 1] = ys / height
    rgba[..., 2] = 0.5 + 0.5 * ((xs // 16 + ys // 16) % 2)
    rgba[..., 3] = 1.0
    img.pixels.foreach_set(rgba[::-1].ravel())  # Blender stores the bottom row first
    img.pack()
    return img


def arrows_as_gp_object(bpy, scene, arrows_px, width=W, height=H):
    """Arrows as strokes of a Grease Pencil object seen by an orthographic top camera.

    The camera looks down -Z with ortho scale 2 over a 2:1 frame, so world (x, y, 0) maps to
    normalized ((x + 1) / 2, y + 0.5) and pixels ((x + 1) / 2 * W, (0.5 - y) * H)."""
    from blender_addon.blender import compat

    scene.render.resolution_x, scene.render.resolution_y = width, height
    scene.render.resolution_percentage = 100
    cam_data = bpy.data.cameras.new("Cam")
    cam_data.type = "ORTHO"
    cam_data.ortho_scale = 2.0
    cam = bpy.data.objects.new("Cam", cam_data)
    cam.location = (0.0, 0.0, 10.0)
    scene.collection.objects.link(cam)
    scene.camera = cam
    if compat.HAS_GP_V3:
        gp = compat.gp_v3_datablocks().new("Arrows")
        layer = gp.layers.new("Arrows")
        drawing = layer.frames.new(scene.frame_current).drawing
        for pts in arrows_px:
            drawing.add_strokes([len(pts)])
            stroke = drawing.strokes[len(drawing.strokes) - 1]
            for p, (x, y) in zip(stroke.points, pts):
                p.position = (x / width * 2 - 1, 0.5 - y / height, 0.0)
    else:
        gp = bpy.data.grease_pencils.new("Arrows")
        layer = gp.layers.new("Arrows")
        frame = layer.frames.new(scene.frame_current)
        for pts in arrows_px:
            stroke = frame.strokes.new()
            stroke.points.add(len(pts))
            for p, (x, y) in zip(stroke.points, pts):
                p.co = (x / width * 2 - 1, 0.5 - y / height, 0.0)
    obj = bpy.data.objects.new("Arrows", gp)
    scene.collection.objects.link(obj)
    return obj


def arrows_as_annotation(bpy, arrows_px, width=W, height=H):
    """4.2 only: real annotation strokes (0–1 image space, y up). From 4.3 on Python cannot
    create annotation strokes; the tests use the reader's point-list seam there."""
    from blender_addon.blender import compat

    annot = compat.new_annotation("Annotations")
    layer = annot.layers.new("Note")
    frame = layer.frames.new(1)
    for pts in arrows_px:
        stroke = frame.strokes.new()
        stroke.points.add(len(pts))
        for p, (x, y) in zip(stroke.points, pts):
            p.co = (x / width, 1.0 - y / height, 0.0)
    return annot


@pytest.fixture
def build_scene(addon):
    """Scene from code: reference, Mask with layers Ball + Box, two arrows, small settings."""
    bpy = addon

    def build(frames=6, arrows=(ARROW_BALL, ARROW_BOX)):
        scene = bpy.context.scene
        st = scene.trackgo
        st.reference = make_reference(bpy)
        mask = bpy.data.masks.new("Mask")
        add_mask_layer(mask, "Ball", circle_points(*CIRCLE, feather_px=3.0), W, H)
        add_mask_layer(mask, "Box", square_points(*SQUARE), W, H)
        st.mask = mask
        if bpy.app.version < (4, 3, 0):
            st.annotation = arrows_as_annotation(bpy, list(arrows))
        else:
            st.arrows_object = arrows_as_gp_object(bpy, scene, list(arrows))
        st.frames, st.width, st.height = frames, W, H
        st.num_inference_steps = 2
        st.random_seed = False
        st.seed = 1234
        scene.frame_current = 10
        return scene

    return build


def connect(bpy, address: str):
    from blender_addon.blender import preferences

    preferences.FALLBACK.server_address = address
    assert bpy.ops.trackgo.connect() == {"FINISHED"}
    drive(lambda: bpy.context.scene.trackgo.connected or bpy.context.scene.trackgo.error, 20)
    return bpy.context.scene.trackgo

