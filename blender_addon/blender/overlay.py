"""Draws the server's planned points and their paths over the Image Editor (``gpu`` module).

The geometry comes from the server's ``plan_result`` (the exact points it will sample), so the
preview cannot disagree with the generation. ``plan_geometry`` is pure and testable; drawing
only maps it to the region with the editor's view2d.
"""
from __future__ import annotations

import functools

import bpy

from ..io import coords, plan_drawing
from . import session
from .properties import PALETTE

_handle = None


def plan_geometry(plan: dict, colors=None, framing=None) -> list:
    """[io.plan_drawing.TrackDrawing] in 0–1 image space: each track's colour, its first-frame
    points and per-frame path segments, those seen apart from those hidden.

    ``plan``: a ``plan_result`` body — per track ``points`` (first frame), ``positions`` (per
    frame, per point) and optionally ``visible``, in output pixels of size ``width`` ×
    ``height``. With the job's ``framing`` they are mapped back onto the reference the Image
    Editor shows.
    """
    w, h = int(plan.get("width", 1)), int(plan.get("height", 1))
    if framing is not None:
        to_norm = functools.partial(_output_to_normalized, framing)
    else:
        def to_norm(points):
            return coords.pixels_to_normalized(points, w, h)
    out = []
    for i, tr in enumerate(plan.get("tracks", [])):
        idx = int(tr.get("track", i))
        rgb = (colors[idx] if colors and idx < len(colors) else PALETTE[idx % len(PALETTE)])
        out.append(plan_drawing.track_drawing(tr, (*rgb, 1.0), to_norm))
    return out


def _output_to_normalized(framing, points):
    return coords.pixels_to_normalized(framing.to_reference(points), framing.ref_w, framing.ref_h)


def _draw():
    context = bpy.context
    scene = context.scene
    st = getattr(scene, "trackgo", None)
    plan = session.SESSION.plans.get(scene.name)
    if st is None or not st.show_overlay or not plan:
        return
    import gpu
    from gpu_extras.batch import batch_for_shader

    region = context.region
    v2d = region.view2d
    from .scene_sources import job_colors
    colors = job_colors(st)
    shader = gpu.shader.from_builtin("UNIFORM_COLOR")
    gpu.state.blend_set("ALPHA")
    gpu.state.point_size_set(5.0)
    framing = session.SESSION.plan_framing.get(scene.name)

    def draw(kind, uv_list, rgba):
        if uv_list:
            shader.uniform_float("color", rgba)
            batch_for_shader(shader, kind, {"pos": [v2d.view_to_region(u, v, clip=False) for u, v in uv_list]}).draw(shader)

    for track in plan_geometry(plan, colors, framing):
        r, g, b, _ = track.rgba
        draw("LINES", [uv for seg in track.segments for uv in seg], (r, g, b, 0.6))
        # hidden (behind something, untracked): dashed and dim paths, hollow dots
        draw("LINES", [uv for seg in track.hidden_segments for piece in plan_drawing.dashes(seg)
                       for uv in piece], (r, g, b, 0.25))
        draw("POINTS", track.points, track.rgba)
        gpu.state.point_size_set(7.0)
        draw("POINTS", track.hidden_points, (r, g, b, 0.5))
        gpu.state.point_size_set(3.0)
        draw("POINTS", track.hidden_points, (0.0, 0.0, 0.0, 0.9))      # the hole
        gpu.state.point_size_set(5.0)
    from . import overlay_timing  # timing hook: a tick per output frame, an arrowhead
    overlay_timing.draw(v2d, plan, shader, batch_for_shader, framing)
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
