"""Per-track timing, Blender-free: a speed curve sampled to one progress value per output frame,
and the tick marks the overlay draws for each frame.

The curve's x axis is the output frame number (1 = the first generated frame, the reference);
its value is the share of the arrow covered (0 → 1). Values are clamped to [0, 1] (a Bezier
curve may overshoot its keys) and must be finite: the protocol (1.1, ``tracks[i].progress``)
accepts nothing else.
"""
from __future__ import annotations

import math
from typing import Callable

from . import coords


class TimingError(ValueError):
    """A timing curve cannot be sampled; the message names the track."""


def sample_progress(evaluate: Callable[[float], float], frames: int, name: str = "track") -> list[float]:
    """[evaluate(1), …, evaluate(frames)] clamped to [0, 1]."""
    out = []
    for f in range(1, int(frames) + 1):
        v = float(evaluate(float(f)))
        if not math.isfinite(v):
            raise TimingError(f"track {name!r}: its timing curve is not a finite number at frame {f}")
        out.append(min(1.0, max(0.0, v)))
    return out


def tick_geometry(plan: dict, size_px: float = 6.0, framing=None):
    """Per track: (ticks, arrowhead) in 0–1 image space from a ``plan_result`` (with the job's
    ``framing``, mapped back onto the reference the Image Editor shows, like the plan's points).

    ``ticks``: where the track is along its arrow at each output frame (the spacing shows its
    speed): the arrow's tail moved by the track's mean displacement, so the ticks sit on the arrow
    (a 1.0 server's plan has no ``arrow``: then on the path of the track's mean point);
    ``arrowhead``: two segments at the last frame pointing along the last move (empty if the
    track never moves)."""
    w, h = int(plan.get("width", 1)), int(plan.get("height", 1))
    out = []
    for tr in plan.get("tracks", []):
        frames = [f for f in (tr.get("positions") or []) if f]
        centres = [(sum(p[0] for p in f) / len(f), sum(p[1] for p in f) / len(f)) for f in frames]
        if centres and tr.get("arrow"):
            (tx, ty), (cx, cy) = tr["arrow"][0], centres[0]
            centres = [(tx + x - cx, ty + y - cy) for x, y in centres]
        head = []
        moves = [(b[0] - a[0], b[1] - a[1]) for a, b in zip(centres, centres[1:]) if a != b]
        if moves:
            dx, dy = moves[-1]
            n = math.hypot(dx, dy)
            ux, uy = dx / n, dy / n
            tip = centres[-1]
            for sx in (1.0, -1.0):   # two barbs at ±30° behind the tip
                bx = tip[0] - size_px * 2 * (ux * math.cos(math.pi / 6) - sx * uy * math.sin(math.pi / 6))
                by = tip[1] - size_px * 2 * (uy * math.cos(math.pi / 6) + sx * ux * math.sin(math.pi / 6))
                head.append((tip, (bx, by)))
        if framing is not None:
            def to_uv(pts):
                return [tuple(p) for p in coords.pixels_to_normalized(framing.to_reference(pts), framing.ref_w,
                                                                       framing.ref_h)]
        else:
            def to_uv(pts):
                return [tuple(p) for p in coords.pixels_to_normalized(pts, w, h)]
        ticks = to_uv(centres) if centres else []
        arrowhead = [tuple(to_uv([a, b])) for a, b in head]
        out.append((ticks, arrowhead))
    return out
