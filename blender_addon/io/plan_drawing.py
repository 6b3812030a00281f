"""What the overlay draws of one planned track, split by visibility (Blender-free, testable).

A plan track (``plan_result``, or the local preview of scene / tracker tracks) may carry
``visible``: per frame, per point, whether the point is seen (a scene point behind another
object or behind the camera, a tracker marker that was not tracked on that frame). The overlay
draws a point hidden on the reference frame hollow, and a path segment where the point is
hidden at either end dashed and dimmed, so the artist sees where the motion is only guessed.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class TrackDrawing:
    """One track in 0–1 image space: dots and path segments, seen and hidden."""
    rgba: tuple
    points: list = field(default_factory=list)            # [(u, v)] seen on the first frame
    hidden_points: list = field(default_factory=list)     # [(u, v)] hidden on the first frame
    segments: list = field(default_factory=list)          # [((u0, v0), (u1, v1))] seen at both ends
    hidden_segments: list = field(default_factory=list)   # hidden at either end


def visibility(track: dict, frames: int, count: int) -> np.ndarray:
    """(frames, count) bool of a plan track; all seen when it has no ``visible``."""
    vis = track.get("visible")
    if vis is None:
        return np.ones((frames, count), dtype=bool)
    arr = np.asarray(vis, dtype=bool)
    if arr.shape != (frames, count):
        raise ValueError(f"plan track {track.get('track')}: visible: expected {frames} frames x {count} points, "
                         f"got shape {arr.shape}")
    return arr


def track_drawing(track: dict, rgba: tuple, to_norm) -> TrackDrawing:
    """Split a plan track's first-frame points and per-frame path segments by visibility;
    ``to_norm`` maps (K, 2) plan pixels to 0–1 image space."""
    out = TrackDrawing(rgba)
    positions = [p for p in (track.get("positions") or []) if p]
    first = track.get("points") or (positions[0] if positions else [])
    if not first:
        return out
    frames = [np.asarray(to_norm(p)) for p in positions] or [np.asarray(to_norm(first))]
    vis = visibility(track, len(frames), len(first))
    for (u, v), seen in zip(np.asarray(to_norm(first)), vis[0]):
        (out.points if seen else out.hidden_points).append((float(u), float(v)))
    for i in range(len(frames) - 1):
        seen = vis[i] & vis[i + 1]
        for a, b, ok in zip(frames[i], frames[i + 1], seen):
            seg = ((float(a[0]), float(a[1])), (float(b[0]), float(b[1])))
            (out.segments if ok else out.hidden_segments).append(seg)
    return out


def dashes(segment, parts: int = 3) -> list:
    """A segment as ``parts`` short pieces with gaps (how a hidden stretch of path is drawn)."""
    (u0, v0), (u1, v1) = segment
    out = []
    for k in range(parts):
        t0, t1 = (2 * k) / (2 * parts - 1), (2 * k + 1) / (2 * parts - 1)
        out.append(((u0 + (u1 - u0) * t0, v0 + (v1 - v0) * t0), (u0 + (u1 - u0) * t1, v0 + (v1 - v0) * t1)))
    return out
