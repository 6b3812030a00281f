"""Overlay: a tick per output frame on each track's path and an arrowhead at its end.

Drawn from the server's plan (Preview Points), so the spacing seen is the spacing generated:
close ticks are slow frames, a pile of ticks is a hold.
"""
from __future__ import annotations

import bpy

from ..io import timing as io_timing
from . import session

_handle = None


def _draw():
    context = bpy.context
    scene = context.scene
    st = getattr(scene, "trackgo", None)
    plan = session.SESSION.plans.get(scene.name)
    if st is None or not st.show_overlay or not plan:
        return
    import gpu
    from gpu_extras.batch import batch_for_shader

    v2d = context.region.view2d
    shader = gpu.shader.from_builtin("UNIFORM_COLOR")
    gpu.state.blend_set("ALPHA")
    gpu.state.point_size_set(7.0)
    shader.uniform_float("color", (1.0, 1.0, 1.0, 0.9))
    for ticks, head in io_timing.tick_geometry(plan):
        dots = [v2d.view_to_region(u, v, clip=False) for u, v in ticks]
        lines = [v2d.view_to_region(u, v, clip=False) for seg in head for (u, v) in seg]
        if dots:
            batch_for_shader(shader, "POINTS", {"pos": dots}).draw(shader)
        if lines:
            batch_for_shader(shader, "LINES", {"pos": lines}).draw(shader)
    gpu.state.point_size_set(1.0)
    gpu.state.blend_set("NONE")


def enable():
    global _handle
    if _handle is None:
        _handle = bpy.types.SpaceImageEditor.draw_handler_add(_draw, (), "WINDOW", "POST_PIXEL")


def disable():
    global _handle
    if _handle is not None:
        bpy.types.SpaceImageEditor.draw_handler_remove(_handle, "WINDOW")
        _handle = None
