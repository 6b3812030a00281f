"""Draws the server's planned points and their paths over the Image Editor (``gpu`` module).

The geometry comes from the server's ``plan_result`` (the exact points it will sample), so the
preview cannot disagree with the generation. ``plan_geometry`` is pure and testable; drawing
only maps it to the region with the editor's view2d.
"""
from __future__ import annotations

import functools

import bpy

from ..io import coords
from . import session
from .properties import PALETTE

_handle = None


def plan_geometry(plan: dict, colors=None, framing=None):
    """[(rgba, points [(u, v)], path segments [((u0, v0), (u1, v1)), ...])] in 0–1 image space.

    ``plan``: a ``plan_result`` body — per track ``points`` (first frame) and ``positions``
    (per frame, per point), in output pixels of size ``width`` × ``height``. With the job's
    ``framing`` they are mapped back onto the reference the Image Editor shows.
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
        pts = [tuple(p) for p in to_norm(tr.get("points"))] if tr.get("points") else []
        segs = []
        frames = tr.get("positions") or []
        for a, b in zip(frames, frames[1:]):
            if not a:
                continue
            na, nb = to_norm(a), to_norm(b)
            segs.extend((tuple(p), tuple(q)) for p, q in zip(na, nb))
        out.append(((*rgb, 1.0), pts, segs))
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
    for rgba, pts, segs in plan_geometry(plan, colors, framing):
        lines = [v2d.view_to_region(u, v, clip=False) for seg in segs for (u, v) in seg]
        dots = [v2d.view_to_region(u, v, clip=False) for (u, v) in pts]
        shader.uniform_float("color", (rgba[0], rgba[1], rgba[2], 0.6))
        if lines:
            batch_for_shader(shader, "LINES", {"pos": lines}).draw(shader)
        shader.uniform_float("color", rgba)
        if dots:
            batch_for_shader(shader, "POINTS", {"pos": dots}).draw(shader)
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
