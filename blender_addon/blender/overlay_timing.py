"""Overlay addition: a tick per output frame on each track's path and an arrowhead at its end.

Drawn inside the plan overlay (``overlay._draw`` calls :func:`draw`) from the server's plan, so
the spacing seen is the spacing generated: close ticks are slow frames, a pile of ticks a hold.
Ticks sit on the track's arrow: its tail moved by the track's mean displacement (every point
moves by the same offset).
"""
from __future__ import annotations

from ..io import timing as io_timing


def draw(v2d, plan: dict, shader, batch_for_shader, framing=None) -> None:
    import gpu
    gpu.state.point_size_set(7.0)
    shader.uniform_float("color", (1.0, 1.0, 1.0, 0.9))
    for ticks, head in io_timing.tick_geometry(plan, framing=framing):
        dots = [v2d.view_to_region(u, v, clip=False) for u, v in ticks]
        lines = [v2d.view_to_region(u, v, clip=False) for seg in head for (u, v) in seg]
        if dots:
            batch_for_shader(shader, "POINTS", {"pos": dots}).draw(shader)
        if lines:
            batch_for_shader(shader, "LINES", {"pos": lines}).draw(shader)
