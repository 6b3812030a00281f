"""Fixtures for the add-on tests (run in each Blender environment with the PyPI ``bpy``).

* ``server`` / ``slow_server``: the real model server as a subprocess of the server
  environment (``$TRACKGO_SERVER_PYTHON -m server``), started through the add-on's own launcher.
* ``addon``: the add-on registered on a fresh empty scene, unregistered afterwards.
* ``build_scene``: reference image, a Mask datablock with two layers, two arrows.
* ``drive``: calls the timer callback like ``bpy.app.timers`` would until a condition holds.
"""
from __future__ import annotations

import os
import sys

import numpy as np
import pytest

from blender_addon.demo_scene import add_mask_layer, circle_points, square_points  # noqa: F401
from tests.addon_io.servers import ROOT, free_address, server_python, start_server  # noqa: F401
W, H = 256, 128            # reference size of the test scene
CIRCLE = (64.0, 64.0, 24.0)         # cx, cy, r in pixels (layer "Ball")
SQUARE = (170.0, 40.0, 210.0, 80.0)  # x0, y0, x1, y1 in pixels (layer "Box")
ARROW_BALL = [(64.0, 64.0), (90.0, 60.0), (120.0, 64.0)]   # tail inside the circle, curved
ARROW_BOX = [(190.0, 60.0), (190.0, 100.0)]               # tail inside the square


def pytest_configure(config):
    # Blender 5.1 on warns about the strip properties it removes in 6.0; the add-on and the tests
    # use their successors through blender/compat.py, so such a warning is a failure.
    config.addinivalue_line("filterwarnings", r"error:.*is expected to be removed in Blender:DeprecationWarning")


@pytest.fixture(scope="session")
def server():
    srv = start_server("preview")
    yield srv
    srv.stop()


@pytest.fixture(scope="session")
def slow_server(tmp_path_factory):
    """The slow backend: a job sends 3 frames, then waits for a cancel or ``release(seed)``."""
    released = tmp_path_factory.mktemp("slow-release")
    srv = start_server("tests.blender.slow_backend:create_backend",
                       env_extra={"TRACKGO_SLOW_RELEASE_DIR": str(released)})
    srv.release = lambda seed: (released / str(int(seed))).touch()
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
    from blender_addon import demo_scene

    try:
        return demo_scene.drive(until, timeout, _status)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


def _status() -> str:
    import bpy
    st = bpy.context.scene.trackgo
    return f"{st.status!r} error={st.error!r} progress={st.progress_text!r}"


def make_reference(bpy, width=W, height=H, name="Reference"):
    from blender_addon import demo_scene

    ys, xs = np.mgrid[0:height, 0:width]
    rgba = np.zeros((height, width, 4), dtype=np.float32)
    rgba[..., 0] = xs / width
    rgba[..., 1] = ys / height
    rgba[..., 2] = 0.5 + 0.5 * ((xs // 16 + ys // 16) % 2)
    rgba[..., 3] = 1.0
    return demo_scene.image_from_rgba(name, rgba)


def arrows_as_gp_object(bpy, scene, arrows_px, width=W, height=H):
    from blender_addon import demo_scene
    return demo_scene.gp_arrows_through_camera(scene, arrows_px, width, height)


def arrows_as_annotation(bpy, arrows_px, width=W, height=H):
    from blender_addon import demo_scene
    return demo_scene.annotation_arrows(arrows_px, width, height)


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



# ---- leaving the interpreter ----------------------------------------------------------------
# The PyPI bpy module crashes or hangs in its own teardown when Python-defined classes or
# property callbacks were ever registered: bpy 4.2 segfaults at exit even after
# unregister_class() when a property had an update/poll callback, bpy 4.5 hangs when a class is
# still registered (a 10-line script without the add-on reproduces both; Blender itself is not
# affected). So once pytest has reported, leave with its exit status and skip that teardown.
_EXIT_STATUS = {"code": None}


def pytest_sessionfinish(session, exitstatus):
    _EXIT_STATUS["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    if _EXIT_STATUS["code"] is not None and "bpy" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_EXIT_STATUS["code"])
